"""Segment pages: "Save this view" on /contacts/, /segments/ with a live count each, the contact
list, its stage counts, its CSV export and its bulk actions for ?segment=<id>, edit and delete."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Segment, Tag
from contacts.selectors import segment_contacts
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


COUNTS = r'class="cell-title" href="/contacts/\?segment=(\d+)">[^<]+</a>.*?class="segment-count">(\d+)<'


def names(response) -> list[str]:
    return sorted(re.findall(r'class="cell-title" href="/contacts/\d+/">([^<]+)</a>', response.content.decode()))


def tab_count(response, label: str) -> int:
    match = re.search(rf'{label}\s*<span class="count">([\d,+]+)</span>', response.content.decode())
    assert match, label
    return int(match.group(1).replace(",", ""))


def export_names(client, query: str) -> list[str]:
    response = client.get(f"/contacts/export/?style=raw&{query}")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return sorted(row["full_name"] for row in csv.DictReader(io.StringIO(text)))


def test_save_this_view_from_the_contact_list(client_for, marketer, crowd):
    client = client_for(marketer)
    page = client.get("/contacts/?stage=lead&source=instagram&ordering=-score&attributes.plan=gold").content.decode()
    assert 'id="save-view"' in page
    query = re.search(r'name="query" value="([^"]*)"', page).group(1).replace("&amp;", "&")
    assert "ordering" not in query
    # The attribute filter, not in the visible form, rides along as a hidden input when filters are re-applied.
    assert '<input type="hidden" name="attributes.plan" value="gold">' in page

    response = client.post("/segments/new/", {"name": "Instagram gold leads", "query": query})
    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/contacts/?segment={segment.pk}"
    assert segment.filters == {"stage": "lead", "source": "instagram", "attributes.plan": "gold"}
    assert segment.created_by == marketer

    opened = client.get(response["Location"])
    assert names(opened) == ["ani"]
    body = opened.content.decode()
    assert 'id="segment-banner"' in body and "Instagram gold leads" in body
    assert "Segment “Instagram gold leads” saved." in body


def test_a_refused_save_shows_the_full_form_with_the_error(client_for, marketer, crowd):
    client = client_for(marketer)
    Segment.objects.create(name="Leads", filters={})
    response = client.post("/segments/new/", {"name": "leads", "query": "stage=lead&tag=vip"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "A segment with this name exists already." in body
    assert re.search(r'<option value="lead"\s+selected>', body)
    assert 'name="tag" value="vip"' in body
    assert Segment.objects.count() == 1


def test_sales_do_not_get_the_save_form_but_see_segments(client_for, rep, crowd):
    Segment.objects.create(name="Leads", filters={"stage": "lead"})
    client = client_for(rep)
    assert 'id="save-view"' not in client.get("/contacts/").content.decode()
    assert client.get("/segments/").status_code == 200
    assert client.post("/segments/new/", {"name": "Mine", "query": ""}).status_code == 403


def test_segments_page_lists_each_with_a_live_count(client_for, marketer, rep, crowd, settings):
    settings.CRM_SALES_CAN_READ_ALL = False
    leads = Segment.objects.create(name="Leads", filters={"stage": "lead"})
    gold = Segment.objects.create(name="Gold plans", filters={"attributes.plan": "gold"})
    body = client_for(marketer).get("/segments/").content.decode()
    counts = dict(re.findall(COUNTS, body, re.S))
    assert counts == {str(leads.pk): "2", str(gold.pk): "2"}
    assert "Stage: Lead" in body and "plan is gold" in body
    assert f'href="/contacts/export/?segment={leads.pk}"' in body
    assert f'href="/segments/{leads.pk}/edit/"' in body

    # Live: a new gold contact counts at once.
    Contact.objects.create(full_name="fajar", email="fajar@example.co.id", attributes={"plan": "Gold"})
    body = client_for(marketer).get("/segments/").content.decode()
    assert dict(re.findall(COUNTS, body, re.S))[
        str(gold.pk)] == "3"

    # A rep counts only their own contacts, and gets no edit links.
    client = client_for(rep)
    body = client.get("/segments/").content.decode()
    counts = dict(re.findall(COUNTS, body, re.S))
    assert counts == {str(leads.pk): "1", str(gold.pk): "1"}
    assert "/edit/" not in body


def test_segments_page_queries_are_bounded_per_segment(client_for, marketer, crowd):
    client = client_for(marketer)
    for n in range(3):
        Segment.objects.create(name=f"S{n}", filters={"stage": "lead", "tag": "webinar", "attributes.plan__ne": "x",
                                                      "owner": "1"})
    client.get("/segments/")
    with CaptureQueriesContext(connection) as three:
        client.get("/segments/")
    for n in range(3, 9):
        Segment.objects.create(name=f"S{n}", filters={"stage": "lead", "owner": "1"})
    with CaptureQueriesContext(connection) as nine:
        client.get("/segments/")
    assert len(nine) - len(three) == 6  # one count per extra segment, nothing more (owner names: one query)


def test_segments_page_paginates(client_for, marketer, reference_data):
    Segment.objects.bulk_create([Segment(name=f"Segment {n:02d}", filters={}) for n in range(30)])
    client = client_for(marketer)
    first = client.get("/segments/").content.decode()
    assert first.count('class="segment-count"') == 25 and "?page=2" in first
    assert client.get("/segments/?page=2").content.decode().count('class="segment-count"') == 5


@pytest.mark.parametrize("filters", [
    {"stage": "lead"},
    {"attributes.plan": "gold"},
    {"tag": "webinar", "score_gte": 5},
    {"attributes.employees__gte": 40, "consent_email": False},
    {},
])
def test_counts_list_and_export_agree_for_a_segment(client_for, marketer, crowd, filters):
    segment = Segment.objects.create(name="Probe", filters=filters)
    expected = sorted(segment_contacts(segment, marketer).values_list("full_name", flat=True))
    client = client_for(marketer)
    listed = client.get(f"/contacts/?segment={segment.pk}")
    assert names(listed) == expected
    assert tab_count(listed, "All contacts") == len(expected)
    assert sum(tab_count(listed, label) for label in ("Contacts", "Leads", "Prospects", "Customers")) == len(expected)
    assert export_names(client, f"segment={segment.pk}") == expected
    body = client.get("/segments/").content.decode()
    assert re.search(r'class="segment-count">(\d+)<', body).group(1) == str(len(expected))


def test_list_and_export_combine_a_segment_with_more_filters(client_for, marketer, crowd):
    segment = Segment.objects.create(name="Gold", filters={"attributes.plan": "gold"})
    client = client_for(marketer)
    listed = client.get(f"/contacts/?segment={segment.pk}&stage=prospect")
    assert names(listed) == ["citra"]
    assert tab_count(listed, "Leads") == 1 and tab_count(listed, "Prospects") == 1
    assert export_names(client, f"segment={segment.pk}&stage=lead") == ["ani"]


def test_an_unknown_segment_matches_nobody_in_the_list_and_the_export(client_for, marketer, crowd):
    client = client_for(marketer)
    listed = client.get("/contacts/?segment=4242")
    assert names(listed) == []
    assert "This segment does not exist (any more)" in listed.content.decode()
    assert export_names(client, "segment=4242") == []


def test_bulk_action_on_a_whole_segment(client_for, marketer, crowd):
    segment = Segment.objects.create(name="Leads", filters={"stage": "lead"})
    client = client_for(marketer)
    assert 'id="bulk-whole-segment"' in client.get(f"/contacts/?segment={segment.pk}").content.decode()
    preview = client.post("/contacts/bulk/", {"segment": segment.pk, "action": "tag", "tag": "nurture",
                                             "next": f"/contacts/?segment={segment.pk}"})
    assert "2 contacts will get the tag" in client.get(preview["Location"]).content.decode()
    response = client.post(preview["Location"].split("?")[0], {"tag": "nurture"})
    assert response.status_code == 302 and response["Location"] == f"/contacts/?segment={segment.pk}"
    tagged = sorted(Tag.objects.get(name="nurture").contacts.values_list("full_name", flat=True))
    assert tagged == ["ani", "budi"]


def test_a_reps_bulk_action_on_a_segment_touches_only_their_contacts(client_for, rep, crowd):
    segment = Segment.objects.create(name="Leads", filters={"stage": "lead"})
    client = client_for(rep)
    preview = client.post("/contacts/bulk/", {"segment": segment.pk, "action": "tag", "tag": "mine"})
    client.post(preview["Location"].split("?")[0], {"tag": "mine"})
    assert sorted(Tag.objects.get(name="mine").contacts.values_list("full_name", flat=True)) == ["ani"]


def test_bulk_without_ids_or_segment_is_refused(client_for, marketer, crowd):
    client = client_for(marketer)
    response = client.post("/contacts/bulk/", {"action": "tag", "tag": "x"}, follow=True)
    assert "Select at least one contact." in response.content.decode()
    assert not Tag.objects.filter(name="x").exists()


def test_edit_a_segment(client_for, marketer, crowd):
    segment = Segment.objects.create(name="Gold", filters={"attributes.plan": "gold", "consent_email": True,
                                                          "score_gte": 10})
    client = client_for(marketer)
    form = client.get(f"/segments/{segment.pk}/edit/").content.decode()
    assert 'name="attr_key_0" value="plan"' in form and 'name="attr_value_0" value="gold"' in form
    assert 'name="score_gte" value="10"' in form
    assert re.search(r'name="consent_email"[^>]*>\s*<option value="">[^<]*</option>\s*<option value="true" selected>', form)

    response = client.post(f"/segments/{segment.pk}/edit/", {
        "name": "Gold leads", "stage": "lead", "attr_key_0": "plan", "attr_op_0": "eq", "attr_value_0": "gold",
        "attr_key_1": "employees", "attr_op_1": "gte", "attr_value_1": "100", "attr_key_2": "note", "attr_op_2": "is_set",
    })
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.name == "Gold leads"
    assert segment.filters == {"stage": "lead", "attributes.plan": "gold", "attributes.employees__gte": "100",
                               "attributes.note__is_set": "true"}
    assert names(client.get(f"/contacts/?segment={segment.pk}")) == ["ani"]
    assert AuditEvent.objects.filter(action="change", object_type="contacts.segment").exists()


def test_edit_errors_are_shown_on_the_field(client_for, marketer, crowd):
    segment = Segment.objects.create(name="Gold", filters={})
    response = client_for(marketer).post(f"/segments/{segment.pk}/edit/", {
        "name": "Gold", "attr_key_0": "employees", "attr_op_0": "gte", "attr_value_0": "lots"})
    assert response.status_code == 400
    assert "employees: Give a number or a date (like 12/31/2026 or 2026-12-31) to compare with." in response.content.decode()
    segment.refresh_from_db()
    assert segment.filters == {}


def test_delete_a_segment(client_for, marketer, crowd):
    segment = Segment.objects.create(name="Old", filters={})
    client = client_for(marketer)
    assert "Delete the segment “Old”?" in client.get(f"/segments/{segment.pk}/delete/").content.decode()
    assert client.post(f"/segments/{segment.pk}/delete/").status_code == 302
    assert not Segment.objects.exists()
    assert Contact.objects.count() == 5


def test_segment_pages_in_indonesian(client_for, marketer, crowd):
    Segment.objects.create(name="Prospek", filters={"stage": "prospect"})
    client = client_for(marketer)
    body = client.get("/segments/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Segmen" in body and "Kontak" in body
    body = client.get("/segments/new/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Segmen baru" in body and "Simpan segmen" in body
    body = client.get("/contacts/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Simpan tampilan ini" in body
