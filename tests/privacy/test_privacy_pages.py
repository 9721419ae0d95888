"""The privacy pages: one-click consent withdrawal (admins, marketers), the profiling
toggle, the access download and erasure with confirmation (admins); and the audit log."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from contacts.models import Contact
from crm.audit import audit
from crm.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls_full")]


@pytest.fixture
def dewi(make_contact, rep):
    return make_contact(full_name="Dewi <b>Lestari</b>", email="dewi@example.co.id", consent_whatsapp=True, owner=rep)


def test_overview_shows_consent_and_buttons_in_few_queries(client_for, admin, dewi, django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("privacy:overview", args=[dewi.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Dewi &lt;b&gt;Lestari&lt;/b&gt;" in html and "<b>Lestari</b>" not in html
    assert reverse("privacy:consent_withdraw", args=[dewi.pk, "whatsapp"]) in html
    assert reverse("privacy:access", args=[dewi.pk]) in html and reverse("privacy:erase", args=[dewi.pk]) in html


def test_marketer_withdraws_consent_in_one_click_and_returns(client_for, marketer, dewi):
    response = client_for(marketer).post(reverse("privacy:consent_withdraw", args=[dewi.pk, "whatsapp"]),
                                         {"next": f"/contacts/{dewi.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/contacts/{dewi.pk}/"
    dewi.refresh_from_db()
    assert dewi.consent_whatsapp is False
    assert dewi.consent_records.get(granted=False).recorded_by == marketer  # the opt-in at creation has its own record


def test_withdraw_ignores_an_offsite_next(client_for, marketer, dewi):
    response = client_for(marketer).post(reverse("privacy:consent_withdraw", args=[dewi.pk, "email"]),
                                         {"next": "https://evil.example.com/"})
    assert response["Location"] == reverse("privacy:overview", args=[dewi.pk])


def test_withdraw_is_post_only_and_knows_its_channels(client_for, marketer, dewi):
    client = client_for(marketer)
    assert client.get(reverse("privacy:consent_withdraw", args=[dewi.pk, "email"])).status_code == 405
    assert client.post(reverse("privacy:consent_withdraw", args=[dewi.pk, "pigeon"])).status_code == 404
    assert client.post(reverse("privacy:consent_withdraw", args=[dewi.pk, "profiling"])).status_code == 404


def test_marketer_may_not_manage_profiling_access_or_erasure(client_for, marketer, dewi):
    client = client_for(marketer)
    assert client.post(reverse("privacy:profiling", args=[dewi.pk]), {"objects": "1"}).status_code == 403
    assert client.get(reverse("privacy:access", args=[dewi.pk])).status_code == 403
    assert client.get(reverse("privacy:erase", args=[dewi.pk])).status_code == 403
    html = client.get(reverse("privacy:overview", args=[dewi.pk])).content.decode()
    assert reverse("privacy:erase", args=[dewi.pk]) not in html


def test_sales_rep_gets_403_even_for_own_contact(client_for, rep, dewi):
    assert client_for(rep).get(reverse("privacy:overview", args=[dewi.pk])).status_code == 403


def test_admin_toggles_the_objection_and_it_shows(client_for, admin, dewi):
    client = client_for(admin)
    client.post(reverse("privacy:profiling", args=[dewi.pk]), {"objects": "1"})
    dewi.refresh_from_db()
    assert dewi.objects_to_profiling
    html = client.get(reverse("privacy:overview", args=[dewi.pk])).content.decode()
    assert "Objects to profiling" in html and "Lift the objection" in html
    client.post(reverse("privacy:profiling", args=[dewi.pk]), {"objects": "0"})
    dewi.refresh_from_db()
    assert not dewi.objects_to_profiling


def test_contact_page_block_shows_the_objection_without_queries(rf, dewi, rep):
    from django.template.loader import render_to_string

    Contact.objects.filter(pk=dewi.pk).update(objects_to_profiling=True)
    dewi.refresh_from_db()
    request = rf.get("/")
    html = render_to_string("contacts/privacy/_buttons.html", {"contact": dewi, "request": request, "is_sales_role": True})
    assert "Objects to profiling" in html
    assert "privacy/consent" not in html  # a rep sees the state, not the buttons


def test_access_download_is_json_attachment_and_audited(client_for, admin, dewi):
    response = client_for(admin).get(reverse("privacy:access", args=[dewi.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="subject-access-contact-{dewi.pk}.json"'
    data = json.loads(response.content)
    assert data["contact"]["email"] == "dewi@example.co.id"
    assert AuditEvent.objects.filter(action="access", object_id=str(dewi.pk), actor=admin).exists()


def test_erase_needs_confirmation(client_for, admin, dewi):
    client = client_for(admin)
    page = client.get(reverse("privacy:erase", args=[dewi.pk]))
    assert page.status_code == 200 and b'name="confirm"' in page.content
    response = client.post(reverse("privacy:erase", args=[dewi.pk]), {"mode": "delete"})
    assert response.status_code == 200 and Contact.objects.filter(pk=dewi.pk).exists()


def test_erase_delete_and_anonymise(client_for, admin, dewi, make_contact):
    client = client_for(admin)
    response = client.post(reverse("privacy:erase", args=[dewi.pk]), {"mode": "delete", "confirm": "on"})
    assert response.status_code == 302 and not Contact.objects.filter(pk=dewi.pk).exists()
    other = make_contact(full_name="Rudi", email="rudi@example.co.id")
    response = client.post(reverse("privacy:erase", args=[other.pk]), {"mode": "anonymise", "confirm": "on"})
    assert response["Location"] == reverse("privacy:overview", args=[other.pk])
    other.refresh_from_db()
    assert other.email is None and other.full_name == ""


def test_reps_never_reach_the_privacy_actions(client_for, other_rep, dewi):
    assert client_for(other_rep).post(reverse("privacy:consent_withdraw", args=[dewi.pk, "email"])).status_code == 403


# --- Audit log page ----------------------------------------------------------------

def test_audit_page_lists_and_filters_in_few_queries(client_for, admin, marketer, dewi, django_assert_max_num_queries):
    for n in range(60):
        audit(marketer, "export", object_type="contacts.contact", rows=n)
    audit(admin, "delete", object_type="contacts.contact", object_id=dewi.pk, mode="delete")
    client = client_for(admin)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("audit:list"))
    html = response.content.decode()
    assert response.status_code == 200 and "maya" in html and "Page 1 of 2" in html
    filtered = client.get(reverse("audit:list"), {"action": "delete"}).content.decode()
    assert f"#{dewi.pk}" in filtered and "rows: 5" not in filtered
    by_actor = client.get(reverse("audit:list"), {"actor": marketer.pk, "page": 2}).content.decode()
    assert "Page 2 of 2" in by_actor


def test_audit_page_is_for_admins_only(client, client_for, marketer):
    assert client.get(reverse("audit:list")).status_code == 302
    assert client_for(marketer).get(reverse("audit:list")).status_code == 403
