"""Export: the same list as /contacts/, formula-safe cells, campaign consent, roles, audit."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from contacts.exporting import neutralise
from contacts.models import Contact
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads the BOM as "this is UTF-8"
    return list(csv.DictReader(io.StringIO(body[1:])))


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://evil\",\"klik\")", "'=HYPERLINK(\"http://evil\",\"klik\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("+6281234567890", "+6281234567890"),  # a plain number carries no formula: phones stay usable
    ("-5", "-5"),
    ("Budi", "Budi"),
    (42, 42),
])
def test_formula_cells_are_neutralised(value, expected):
    assert neutralise(value) == expected
    assert neutralise(neutralise(value)) == expected


def test_csv_export_is_the_filtered_list_with_neutralised_cells(client_for, marketer, make_contact):
    evil = make_contact(full_name="=HYPERLINK(\"http://evil\")", company="@SUM(A1)", city="-2+3", job_title="+cmd|x",
                        phone="0812-3456-7890", email="evil@contoh.co.id")
    Contact.objects.filter(pk=evil.pk).update(stage="lead")
    make_contact(full_name="Bukan Lead", email="bukan@contoh.co.id")

    rows = _csv(client_for(marketer).get("/contacts/export/?style=raw&stage=lead"))

    assert len(rows) == 1
    row = rows[0]
    assert row["full_name"] == "'=HYPERLINK(\"http://evil\")"
    assert (row["company"], row["city"], row["job_title"]) == ("'@SUM(A1)", "'-2+3", "'+cmd|x")
    assert (row["phone"], row["email"], row["stage"]) == ("+6281234567890", "evil@contoh.co.id", "lead")


def test_xlsx_export_stores_text_not_formulas(client_for, admin, make_contact):
    make_contact(full_name="=1+1", company="Normal", email="x@contoh.co.id")

    response = client_for(admin).get("/contacts/export/?style=raw&format=xlsx")

    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    name = sheet.cell(row=2, column=header.index("full_name") + 1)
    assert name.value == "'=1+1" and name.data_type == "s"


def test_campaign_ready_leaves_out_do_not_contact_and_no_opt_in(client_for, marketer, make_contact):
    make_contact(full_name="Boleh Email", email="a@contoh.co.id", consent_email=True)
    make_contact(full_name="Jangan", email="b@contoh.co.id", consent_email=True, do_not_contact=True)
    make_contact(full_name="Tanpa Izin", email="c@contoh.co.id")
    make_contact(full_name="Izin WA", email="d@contoh.co.id", phone="0813 1111 2222", consent_whatsapp=True)
    make_contact(full_name="Izin WA tanpa HP", email="e@contoh.co.id", consent_whatsapp=True)
    client = client_for(marketer)

    assert [r["full_name"] for r in _csv(client.get("/contacts/export/?style=raw&campaign=email"))] == ["Boleh Email"]
    assert [r["full_name"] for r in _csv(client.get("/contacts/export/?style=raw&campaign=whatsapp"))] == ["Izin WA"]
    assert _csv(client.get("/contacts/export/?style=raw&campaign=sms")) == []
    assert len(_csv(client.get("/contacts/export/?style=raw"))) == 5


def test_export_selection_posted_from_the_list(client_for, marketer, make_contact):
    chosen = [make_contact(), make_contact()]
    make_contact()

    response = client_for(marketer).post("/contacts/export/", {"ids": [c.pk for c in chosen] + ["bukan-angka"], "style": "raw"})

    assert sorted(int(r["id"]) for r in _csv(response)) == sorted(c.pk for c in chosen)
    event = AuditEvent.objects.get(action="export")
    assert (event.details["rows"], event.details["selection"]) == (2, 2)


def test_exporting_an_empty_selection_goes_back_with_a_message(client_for, marketer):
    response = client_for(marketer).post("/contacts/export/", {"next": "/contacts/?stage=lead"})
    assert response.status_code == 302 and response["Location"] == "/contacts/?stage=lead"
    evil = client_for(marketer).post("/contacts/export/", {"next": "https://evil.example/"})
    assert evil["Location"] == "/contacts/"
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_is_audited_with_count_and_filters_never_the_data(client_for, admin, make_contact):
    make_contact(full_name="Budi Rahasia", email="budi@contoh.co.id")

    _csv(client_for(admin).get("/contacts/export/?style=raw&search=budi@contoh.co.id&industry=other&campaign="))

    event = AuditEvent.objects.get(action="export")
    assert event.actor == admin
    assert event.details["rows"] == 1
    assert event.details["filters"] == {"industry": "other", "search": "…"}
    assert "budi" not in str(event.details).lower()


def test_reps_cannot_export(client_for, rep, make_contact):
    make_contact(owner=rep)
    assert client_for(rep).get("/contacts/export/?style=raw").status_code == 403
    assert client_for(rep).post("/contacts/export/", {"ids": [1]}).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_export_query_count_does_not_grow_with_rows(client_for, admin, make_contact, django_assert_max_num_queries):
    for _i in range(30):
        make_contact(tags=["expo"])
    client = client_for(admin)
    with django_assert_max_num_queries(12):
        rows = _csv(client.get("/contacts/export/?style=raw"))
    assert len(rows) == 30 and rows[0]["tags"] == "expo"
