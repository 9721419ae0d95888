"""The stage lists at /contacts/: who sees what, tabs, filters, sorting, pagination,
bulk actions, and a query count that does not grow with the page size."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import views as contact_views
from contacts.models import Contact, Note, Tag
from crm.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]

LIST = "/contacts/"


def names(response) -> list[str]:
    return re.findall(r'class="cell-title" href="/contacts/\d+/">([^<]+)</a>', response.content.decode())


@pytest.fixture
def people(journey, rep, other_rep, now=None):
    """Six contacts across stages, industries and owners, with distinct scores."""
    from django.utils import timezone

    now = timezone.now()
    made = {
        "ani": journey(full_name="Ani Contact", industry="ecommerce", source="instagram", owner=rep, score=5, company="Toko Ani"),
        "budi": journey(full_name="Budi Lead", industry="b2b", source="linkedin", owner=rep, score=30,
                        steps=[("lead", now)], phone="+6281234567001", consent_whatsapp=True),
        "citra": journey(full_name="Citra Lead", industry="b2b", source="google", owner=other_rep, score=35,
                         steps=[("lead", now)], consent_email=True),
        "dewi": journey(full_name="Dewi Prospect", industry="education", source="instagram", score=70,
                        steps=[("lead", now), ("prospect", now)]),
        "eko": journey(full_name="Eko Customer", industry="healthcare", score=90,
                       steps=[("lead", now), ("prospect", now), ("customer", now)], do_not_contact=True),
        "fitri": journey(full_name="Fitri Lead", industry="ecommerce", source="tiktok", score=25, steps=[("lead", now)],
                         last_interaction_at=now),
    }
    return made


@pytest.mark.parametrize("who", ["admin", "marketer", "manager", "rep"])
def test_every_role_gets_the_list(who, request, client_for, people):
    user = request.getfixturevalue(who)
    response = client_for(user).get(LIST)
    assert response.status_code == 200
    assert b"How to nurture" in response.content


def test_anonymous_users_go_to_login_and_users_without_a_role_get_403(client, make_user):
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(make_user("nobody"))
    response = client.get(LIST)
    assert response.status_code == 403
    assert b"have access to this page" in response.content  # the 403 template in the layout


def test_a_rep_sees_only_their_own_contacts(client_for, rep, people):
    response = client_for(rep).get(LIST)
    assert sorted(names(response)) == ["Ani Contact", "Budi Lead"]


def test_a_marketer_sees_everyone_and_tabs_count_per_stage(client_for, marketer, people):
    response = client_for(marketer).get(LIST)
    assert len(names(response)) == 6
    tabs = dict(re.findall(r'href="\?(?:stage=(\w+))?[^"]*"[^>]*>\s*(?:<span class="dot[^>]*></span>)?[^<]+<span class="count">(\d+)</span>',
                           response.content.decode()))
    assert tabs == {"": "6", "contact": "1", "lead": "3", "prospect": "1", "customer": "1"}


@pytest.mark.parametrize(("stage", "guidance"), [
    ("contact", "relevant first approach"),
    ("lead", "no price promotions"),
    ("prospect", "follow up personally and quickly"),
    ("customer", "Onboard them"),
])
def test_each_stage_shows_its_nurturing_guidance(client_for, marketer, people, stage, guidance):
    response = client_for(marketer).get(LIST, {"stage": stage})
    assert guidance in response.content.decode()
    assert all(Contact.objects.get(full_name=n).stage == stage for n in names(response))


@pytest.mark.parametrize(("params", "expected"), [
    ({"stage": "lead"}, ["Citra Lead", "Budi Lead", "Fitri Lead"]),
    ({"search": "toko"}, ["Ani Contact"]),
    ({"search": "0812 3456 7001"}, ["Budi Lead"]),
    ({"industry": "b2b"}, ["Citra Lead", "Budi Lead"]),
    ({"source": "INSTAGRAM"}, ["Dewi Prospect", "Ani Contact"]),
    ({"score_min": "30", "score_max": "80"}, ["Dewi Prospect", "Citra Lead", "Budi Lead"]),
    ({"consent": "whatsapp"}, ["Budi Lead"]),
    ({"consent": "do_not_contact"}, ["Eko Customer"]),
    ({"owner": "none"}, ["Eko Customer", "Dewi Prospect", "Fitri Lead"]),
    ({"active_within": "1"}, ["Fitri Lead"]),
    ({"stage": "lead", "industry": "ecommerce"}, ["Fitri Lead"]),
])
def test_filters(client_for, marketer, people, params, expected):
    response = client_for(marketer).get(LIST, {"ordering": "-score", **params})
    assert names(response) == expected


def test_owner_filter_by_id_and_tag_filter(client_for, marketer, people, rep):
    people["ani"].tags.add(Tag.objects.create(name="vip"))
    client = client_for(marketer)
    assert sorted(names(client.get(LIST, {"owner": rep.pk}))) == ["Ani Contact", "Budi Lead"]
    assert names(client.get(LIST, {"tag": "VIP"})) == ["Ani Contact"]


def test_an_invalid_filter_value_is_reported_not_a_crash(client_for, marketer, people):
    response = client_for(marketer).get(LIST, {"score_min": "lots"})
    assert response.status_code == 200
    assert b'class="errorlist"' in response.content


def test_sorting_by_column_headers(client_for, marketer, people):
    client = client_for(marketer)
    assert names(client.get(LIST, {"ordering": "full_name"}))[:3] == ["Ani Contact", "Budi Lead", "Citra Lead"]
    assert names(client.get(LIST, {"ordering": "-full_name"}))[0] == "Fitri Lead"
    by_score = client.get(LIST, {"ordering": "-score"})
    assert names(by_score)[0] == "Eko Customer"
    html = by_score.content.decode()
    # The sorted column says so to screen readers, and its link flips the direction.
    assert re.search(r'aria-sort="descending"><a class="sort" href="\?ordering=score"', html)
    assert names(client.get(LIST, {"ordering": "score"}))[0] == "Ani Contact"


def test_pagination_keeps_filters_and_caps_the_count(client_for, marketer, journey, monkeypatch):
    for i in range(7):
        journey(full_name=f"Person {i}", industry="b2b", score=i)
    monkeypatch.setattr(contact_views, "PAGE_SIZE", 3)
    client = client_for(marketer)

    first = client.get(LIST, {"industry": "b2b", "ordering": "-score"})
    assert names(first) == ["Person 6", "Person 5", "Person 4"]
    assert b"Page 1 of 3" in first.content
    assert 'href="?industry=b2b&amp;ordering=-score&amp;page=2"' in first.content.decode()
    third = client.get(LIST, {"industry": "b2b", "ordering": "-score", "page": "3"})
    assert names(third) == ["Person 0"]
    assert names(client.get(LIST, {"industry": "b2b", "ordering": "-score", "page": "99"})) == ["Person 0"]

    # Past the cap the page says "more than N" instead of counting everything…
    monkeypatch.setattr(contact_views, "LIST_COUNT_CAP", 5)
    capped = client.get(LIST, {"industry": "b2b", "score_min": "0"})
    assert b"More than 5 match" in capped.content
    assert b"Page 1 of 2" in capped.content
    # …unless the only filters are the stage rollup's dimensions: then the count is exact at any size.
    exact = client.get(LIST, {"industry": "b2b"})
    assert b"7 contacts match" in exact.content
    assert b"Page 1 of 3" in exact.content


def test_list_query_count_does_not_grow_with_rows(client_for, marketer, journey):
    client = client_for(marketer)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LIST, {"stage": "lead"}).status_code == 200
        return len(ctx.captured_queries)

    tag = Tag.objects.create(name="hot")
    for _ in range(3):
        journey(steps=[("lead", journey().created_at)]).tags.add(tag)
    few = count_queries()
    for _ in range(27):
        journey(steps=[("lead", journey().created_at)]).tags.add(tag)
    many = count_queries()
    assert few == many
    assert many <= 14


def _bulk(client, payload: dict, params: dict, **kwargs):
    """The list's bar, then the preview's confirm button (tests/bulk covers the preview itself)."""
    preview = client.post(reverse("bulk:start"), payload)
    if preview.status_code != 302 or "/contacts/bulk/" not in preview["Location"]:
        return preview
    return client.post(preview["Location"].split("?")[0], params, **kwargs)


def test_bulk_add_tag(client_for, marketer, people):
    ids = [people["ani"].pk, people["budi"].pk]
    response = _bulk(client_for(marketer), {"action": "tag", "tag": "webinar-nov", "ids": ids, "next": "/contacts/?stage=lead"},
                     {"tag": "webinar-nov"})
    assert response.status_code == 302 and response["Location"] == "/contacts/?stage=lead"
    assert sorted(Tag.objects.get(name="webinar-nov").contacts.values_list("pk", flat=True)) == sorted(ids)
    assert AuditEvent.objects.filter(action="change", details__fields=["tags"]).exists()


def test_bulk_assign_owner_needs_a_manager(client_for, manager, marketer, rep, people):
    ids = [people["dewi"].pk, people["eko"].pk]
    payload = {"action": "assign", "owner": rep.pk, "ids": ids}
    assert client_for(marketer).post(reverse("bulk:start"), payload).status_code == 403
    assert not Contact.objects.filter(pk__in=ids, owner=rep).exists()

    response = _bulk(client_for(manager), payload, {"owner": rep.pk}, follow=True)
    assert Contact.objects.filter(pk__in=ids, owner=rep).count() == 2
    assert b"Assign owner: 2 of 2 contacts done." in response.content
    assert Note.objects.filter(contact_id__in=ids, kind="system").count() == 2


def test_bulk_actions_reject_other_peoples_contacts_and_empty_selections(client_for, rep, people):
    client = client_for(rep)
    foreign = {"action": "tag", "tag": "x", "ids": [people["budi"].pk, people["citra"].pk]}
    assert client.post(reverse("bulk:start"), foreign).status_code == 403
    assert not Tag.objects.filter(name="x").exists()

    response = client.post(reverse("bulk:start"), {"action": "tag", "tag": "x"}, follow=True)
    assert b"Select at least one contact" in response.content
    response = client.post(reverse("bulk:start"), {"action": "tag", "ids": [people["budi"].pk]}, follow=True)
    assert b"Type a tag name" in response.content
    assert client.get(reverse("bulk:start")).status_code == 405


def test_the_bulk_form_posts_the_selection_to_the_export_url(client_for, marketer, rep, people):
    html = client_for(marketer).get(LIST).content.decode()
    assert 'formaction="/contacts/export/"' in html
    assert 'name="ids" value="%d"' % people["ani"].pk in html
    # Reps cannot export, and only managers get the owner picker.
    rep_html = client_for(rep).get(LIST).content.decode()
    assert "/contacts/export/" not in rep_html
    assert 'value="assign"' not in rep_html


def test_empty_states_say_what_to_do_next(client_for, marketer, rep, reference_data):
    assert b"Import contacts" in client_for(marketer).get(LIST).content
    assert b"No prospects right now" in client_for(marketer).get(LIST, {"stage": "prospect"}).content
    assert b"No contacts match these filters" in client_for(marketer).get(LIST, {"search": "zzz"}).content
    assert b"Ask your manager to assign some" in client_for(rep).get(LIST).content
