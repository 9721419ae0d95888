"""Issue 18, "no horizontal scroll on a phone": the data tables of the dashboard, the reports, the audit log, the
messages list and the import pages stack into cards on a phone (`.table-cards`), each cell labelled with its column
(`data-label`, in the reader's language; the import preview's with the file's own header). The browser walk-through
checks that nothing scrolls sideways at 390 px; these check the markup the cards need, page by page."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.audit import audit
from tests.imports.conftest import csv_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]


class Cards(HTMLParser):
    """Collects, for every `table.table-cards`, the attributes of its body and footer cells."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[dict]] = []
        self.depth = 0  # nesting inside a card table
        self.head = False
        self.column = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            if self.depth or "table-cards" in (attrs.get("class") or "").split():
                if not self.depth:
                    self.tables.append([])
                self.depth += 1
        elif self.depth == 1 and tag == "thead":
            self.head = True
        elif self.depth == 1 and tag == "tr":
            self.column = 0
        elif self.depth == 1 and tag in ("td", "th") and not self.head:
            self.column += 1
            if tag == "td":  # a row's first cell may go unlabelled: it is the card's title (a name, a link)
                self.tables[-1].append({**attrs, "title": self.column == 1})

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "thead":
            self.head = False


def labels(html: str) -> list[list[str]]:
    """Each card table's cell labels; a cell without one (other than a row's first, its title, or a full-width
    empty-state cell) fails."""
    parser = Cards()
    parser.feed(html)
    assert parser.tables, "no table stacks into cards"
    for cells in parser.tables:
        unlabelled = [c for c in cells if not c.get("data-label") and not c.get("colspan") and not c["title"]]
        assert not unlabelled, f"cells without a data-label: {unlabelled}"
    return [[c["data-label"] for c in cells if c.get("data-label")] for cells in parser.tables]


def test_dashboard_queue_and_timing_tables_are_labelled(client_for, marketer, journey, rep):
    now = timezone.now()
    journey(industry="b2b", owner=rep, full_name="Waiting Wulan",  # a prospect nobody called for two days
            steps=[("lead", now - timedelta(days=5)), ("prospect", now - timedelta(days=2))])
    html = client_for(marketer).get("/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    found = [label for table in labels(html) for label in table]
    assert "Menunggu sejak" in found and "Pemilik" in found, found  # the follow-up queue, in Indonesian
    assert "Menjadi prospek" in found, found  # the timing tables


def test_reports_tables_are_labelled(client_for, manager, make_contact):
    from contacts.models import Contact, StageChange

    contact = make_contact(full_name="Kontak", industry="b2b")
    at = timezone.now() - timedelta(days=1)
    StageChange.objects.create(contact=contact, from_stage="contact", to_stage="prospect", changed_at=at,
                               reason_code="prospect")
    Contact.objects.filter(pk=contact.pk).update(stage="prospect", stage_changed_at=at)
    html = client_for(manager).get(reverse("reports")).content.decode()
    tables = labels(html)
    assert len(tables) >= 3, tables  # cohorts, industries, reps
    assert ["Created", "Lead", "Prospect", "Customer"] == tables[0][:4]


def test_audit_log_is_labelled(client_for, admin, make_contact):
    contact = make_contact(full_name="Dewi")
    audit(admin, "change", contact, fields=["owner"])
    [table] = labels(client_for(admin).get(reverse("audit:list")).content.decode())
    assert {"When", "By", "What happened", "Object", "Details"} <= set(table)


def test_messages_list_is_labelled(client_for, marketer, reference_data):
    from nurture.services import starter_library_load

    starter_library_load()
    [table] = labels(client_for(marketer).get(reverse("nurture:message_list")).content.decode())
    assert {"Purpose", "Channel", "Industry", "Language"} <= set(table)


def test_import_preview_cells_carry_the_files_header_and_utm_targets_are_capitalised(client_for, marketer,
                                                                                      reference_data):
    from contacts.imports.run import import_create

    job = import_create(file_name="pameran.csv", by=marketer,
                        content=csv_bytes([["Nama", "No. HP", "utm source"], ["Dewi", "0812-3456-7890", "ig"]]))
    client = client_for(marketer)
    html = client.get(reverse("import_mapping", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert ["Nama", "No. HP", "utm source"] in labels(html)
    for label in ("Sumber UTM", "Medium UTM", "Kampanye UTM"):
        assert f">{label}</option>" in html, label
    assert "sumber UTM" not in html
    recent = client.get(reverse("import"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert any("Baris" in table for table in labels(recent)), labels(recent)


def test_duplicates_are_labelled(client_for, marketer, make_contact):
    make_contact(full_name="Budi Santoso", email="budi.santoso@gmail.com")
    make_contact(full_name="Budi Santoso", email="budisantoso@gmail.com")
    [table] = labels(client_for(marketer).get(reverse("duplicates"), HTTP_ACCEPT_LANGUAGE="id").content.decode())
    assert ["Alasan", "Kontak A", "Kontak B", "Gabungkan"] == table, table  # in the reader's language


def test_custom_fields_settings_are_labelled(client_for, admin, reference_data):
    from contacts.fields import custom_field_save

    custom_field_save(data={"key": "seats", "label_en": "Seats", "label_id": "Kursi", "type": "number"}, by=admin)
    [table] = labels(client_for(admin).get("/settings/fields/").content.decode())
    assert {"Key", "Type", "Position", "Status", "Actions"} <= set(table), table


def test_webhook_deliveries_are_labelled(client_for, admin, settings, reference_data):
    from webhooks.models import Delivery, Event
    from webhooks.services import endpoint_save

    settings.CRM_WEBHOOK_ALLOW_PRIVATE = True
    endpoint, _secret = endpoint_save(data={"url": "http://127.0.0.1:9/hook", "events": ["contact.stage_changed"]},
                                      by=admin)
    event = Event.objects.create(type="contact.stage_changed", data={})
    Delivery.objects.create(endpoint=endpoint, event=event, status="failed", attempts=1, error="refused")
    [table] = labels(client_for(admin).get(f"/webhooks/{endpoint.pk}/").content.decode())
    assert {"Status", "HTTP status", "Last attempt", "Answer", "Actions"} <= set(table), table
