"""The audit log says what happened in words, in the reader's language, with links to the objects;
its filters are a choice of object types and date pickers (issue 18, defect 9)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crm.audit import audit
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_set(playbooks):
    from scoring.models import RuleSet

    return RuleSet.objects.get(industry="")


def _rows(html: str) -> list[tuple[str, str]]:
    texts = re.findall(r'<td data-audit="text"[^>]*>(.*?)</td>', html, flags=re.S)
    objects = re.findall(r'<td class="nowrap" data-audit="object"[^>]*>(.*?)</td>', html, flags=re.S)
    return list(zip(texts, objects, strict=True))


def test_events_read_as_sentences_with_links(client_for, admin, marketer, make_contact, default_set):
    contact = make_contact(full_name="Dewi")
    version = default_set.active_version
    audit(marketer, "change", contact, fields=["owner"])
    audit(marketer, "change", object_type="contacts.contact", fields=["tags"], count=3, ids=[1, 2, 3])
    audit(admin, "publish", version, ruleset=default_set.pk, number=version.number, rollback_of=1, returned=4)
    audit(marketer, "export", object_type="contacts.contact", rows=38, format="csv")
    audit(admin, "change", version, what="rule_deleted", rule=9, label="Opened an email")
    audit(admin, "delete", object_type="contacts.contact", object_id=contact.pk, mode="delete")

    html = client_for(admin).get(reverse("audit:list")).content.decode()
    rows = _rows(html)
    assert rows[0] == (f"Deleted contact #{contact.pk}", f"contact #{contact.pk}")  # gone: no link
    assert rows[1] == (f"Deleted rule “Opened an email” from rule set version #{version.pk}",
                       f'<a href="/rules/version/{version.pk}/">rule set version #{version.pk}</a>')
    assert rows[2][0] == "Exported 38 contacts (csv)"
    assert rows[3][0] == (f"Rolled back the rules: published rule set version #{version.pk} again, a copy of version #1; "
                          "4 contacts returned to where they were")
    assert rows[4][0] == "Changed tags of 3 contacts"
    assert rows[5] == (f"Changed owner of contact #{contact.pk}", f'<a href="/contacts/{contact.pk}/">contact #{contact.pk}</a>')
    table = html[html.index("<table"):]
    assert "scoring.rulesetversion" not in table and "fields:" not in table.split("<details>")[0]


def test_the_log_reads_in_indonesian(client_for, admin, make_contact):
    contact = make_contact(full_name="Dewi")
    audit(admin, "change", contact, fields=["owner"])
    html = client_for(admin).get(reverse("audit:list"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    [(text, _obj)] = _rows(html)
    assert text == f"Mengubah pemilik dari kontak #{contact.pk}"


def test_filters_offer_object_types_and_date_pickers(client_for, admin, make_contact, default_set):
    contact = make_contact(full_name="Dewi")
    audit(admin, "change", contact, fields=["owner"])
    audit(admin, "publish", default_set.active_version, number=1)
    client = client_for(admin)
    html = client.get(reverse("audit:list")).content.decode()
    assert '<select name="object_type"' in html and '<option value="scoring.rulesetversion">Rule set version</option>' in html
    assert len(re.findall(r'<input type="date" name="(since|until)"', html)) == 2
    filtered = client.get(reverse("audit:list"), {"object_type": "scoring.rulesetversion"})
    events = list(filtered.context["page"])
    assert events[0].action == AuditEvent.Action.PUBLISH and {e.object_type for e in events} == {"scoring.rulesetversion"}
    refused = client.get(reverse("audit:list"), {"object_type": "nonsense"})
    assert "Select a valid choice" in refused.content.decode()
