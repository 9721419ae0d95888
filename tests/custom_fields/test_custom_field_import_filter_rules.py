"""Custom fields through the importer (mapping targets, coercion, bad cells reported), the contact
list's filters (number gte, date lte, choice) and an attribute rule scoring a contact."""

from __future__ import annotations

import pytest

from contacts import services
from contacts.imports.mapping import mapping_validate, target_choices
from contacts.models import Contact, ImportJob
from tests.imports.conftest import csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_import(db):
    from contacts.imports.mapping import mapping_normalise
    from contacts.imports.run import import_create, import_run, import_start

    def run(content: bytes, mapping: dict):
        job = import_create(file_name="pelanggan.csv", content=content)
        import_start(job=job, mapping=mapping_normalise(mapping, job.header), run=False)
        return import_run(job_id=job.pk)

    return run


def test_import_maps_columns_to_a_number_and_a_date_field_and_reports_bad_cells(fields, run_import):
    rows = [
        ["Email", "Karyawan", "Perpanjang", "Paket"],
        ["satu@contoh.co.id", "1250", "31/03/2027", "Emas"],
        ["dua@contoh.co.id", "banyak", "2027-01-15", "basic"],
        ["tiga@contoh.co.id", "40", "bulan depan", "platinum"],
    ]
    mapping = {"identity": "auto", "columns": {"Email": "email", "Karyawan": "field:employees",
                                               "Perpanjang": "field:renewal", "Paket": "field:plan"}}
    job = run_import(csv_bytes(rows), mapping)

    assert job.status == ImportJob.Status.DONE and (job.created, job.failed) == (3, 0)
    stored = {c.email: c.attributes for c in Contact.objects.all()}
    assert stored["satu@contoh.co.id"] == {"employees": 1250, "renewal": "2027-03-31", "plan": "gold"}
    assert stored["dua@contoh.co.id"] == {"renewal": "2027-01-15", "plan": "basic"}
    assert stored["tiga@contoh.co.id"] == {"employees": 40}
    warnings = {(w["row"], w["column"]): w for w in job.warnings}
    assert set(warnings) == {(3, "Karyawan"), (4, "Perpanjang"), (4, "Paket")}
    assert warnings[(3, "Karyawan")]["value"] == "banyak" and "not a number" in warnings[(3, "Karyawan")]["reason"]
    assert "not a date" in warnings[(4, "Perpanjang")]["reason"]
    assert "not one of the choices" in warnings[(4, "Paket")]["reason"]


def test_a_column_kept_as_attribute_under_a_fields_key_is_checked_too(fields, run_import):
    rows = [["Email", "employees"], ["a@contoh.co.id", "12"], ["b@contoh.co.id", "dua belas"]]
    job = run_import(csv_bytes(rows), {"identity": "auto", "columns": {"Email": "email", "employees": "attribute"}})
    assert (job.created, job.failed) == (2, 0)
    assert Contact.objects.get(email="a@contoh.co.id").attributes == {"employees": 12}
    assert Contact.objects.get(email="b@contoh.co.id").attributes == {}
    [warning] = job.warnings
    assert (warning["row"], warning["column"]) == (3, "employees") and "not a number" in warning["reason"]


def test_the_mapping_offers_active_fields_once_each(fields, admin):
    from contacts.fields import custom_field_set_active

    groups = dict(target_choices())
    custom = dict(groups["Custom fields"])
    assert custom["field:employees"] == "Employees"
    problems = mapping_validate({"identity": "auto", "columns": {
        "Email": {"target": "email"}, "A": {"target": "field:employees"}, "B": {"target": "field:employees"},
        "C": {"target": "field:nothing"}}}, ["Email", "A", "B", "C"])
    assert "already mapped" in problems["B"][0] and "Unknown target" in problems["C"][0]
    custom_field_set_active(field=fields["employees"], active=False, by=admin)
    assert "field:employees" not in dict(dict(target_choices())["Custom fields"])


def test_the_list_filters_offer_custom_fields_and_compare_by_type(client_for, admin, fields, make_contact):
    small = make_contact(full_name="Kecil", attributes={"employees": 9, "renewal": "2027-06-01", "plan": "basic"})
    big = make_contact(full_name="Besar", attributes={"employees": 250, "renewal": "2027-01-15", "plan": "gold"})
    text = make_contact(full_name="Teks", attributes={"segment": "vip"})
    client = client_for(admin)

    page = client.get("/contacts/")
    html = page.content.decode()
    assert 'name="attributes.employees__gte"' in html and 'name="attributes.renewal__lte"' in html
    assert 'name="attributes.plan"' in html and ">Gold<" in html

    def names(query):
        response = client.get("/contacts/", query)
        assert response.status_code == 200
        return {c.full_name for c in response.context["page"].object_list}

    assert names({"attributes.employees__gte": "50"}) == {"Besar"}
    assert names({"attributes.employees__gte": "9"}) == {"Besar", "Kecil"}
    assert names({"attributes.renewal__lte": "2027-03-31"}) == {"Besar"}
    assert names({"attributes.plan": "basic"}) == {"Kecil"}
    assert text.pk and small.pk and big.pk
    # Filled-in custom filters are inputs of their own, not repeated as hidden parameters.
    response = client.get("/contacts/", {"attributes.employees__gte": "50"})
    assert response.content.decode().count('name="attributes.employees__gte"') == 1


@pytest.fixture
def rule_on(playbooks, admin):
    from scoring.models import Rule
    from scoring.rulesets import rule_save, version_draft, version_publish

    def add(field: str, operator: str, value, points: int = 7):
        draft = version_draft(ruleset=playbooks["general"].ruleset, by=admin)
        rule = rule_save(version=draft, by=admin, rule=Rule(type=Rule.Type.ATTRIBUTE, label=f"{field} {operator} {value}",
                                                              points=points, field=field, operator=operator, value=value))
        version_publish(version=draft, by=admin)
        return rule

    return add


def test_a_rule_on_a_number_field_scores_a_contact(fields, rule_on, make_contact, admin, on_commit):
    rule = rule_on("attributes.employees", "gte", 50, points=7)
    contact = make_contact(full_name="Pabrik", attributes={"employees": 10})
    before = contact.score
    with on_commit():
        services.contact_update(contact=contact, by=admin, data={"attributes": {"employees": "120"}})
    contact.refresh_from_db()
    assert contact.score == before + 7
    assert rule.pk in {hit["rule"] for hit in contact.score_breakdown["hits"]}


def test_a_rule_on_a_date_field_compares_dates(fields, rule_on, make_contact, admin, on_commit):
    rule = rule_on("attributes.renewal", "lte", "2027-03-31", points=5)
    soon = make_contact(full_name="Segera", attributes={"renewal": "2027-02-01"})
    later = make_contact(full_name="Nanti", attributes={"renewal": "2027-12-01"})
    assert rule.pk in {hit["rule"] for hit in soon.score_breakdown["hits"]}
    assert rule.pk not in {hit["rule"] for hit in later.score_breakdown["hits"]}


@pytest.mark.parametrize(("field", "operator", "value", "where", "message"), [
    ("attributes.plan", "gte", "gold", "operator", "choice field"),
    ("attributes.employees", "contains", "5", "operator", "number field"),
    ("attributes.plan", "eq", "platinum", "value", "not one of the choices"),
    ("attributes.renewal", "gte", 2027, "value", "YYYY-MM-DD"),
])
def test_a_rule_on_a_custom_field_needs_an_operator_and_value_of_its_type(fields, playbooks, field, operator, value, where, message):
    from django.core.exceptions import ValidationError

    from scoring.models import Rule
    from scoring.rulesets import rule_validate

    with pytest.raises(ValidationError) as caught:
        rule_validate(Rule(type=Rule.Type.ATTRIBUTE, label="x", points=1, field=field, operator=operator, value=value))
    assert message in " ".join(caught.value.message_dict[where])


def test_the_rule_editor_offers_custom_fields_by_label(client_for, admin, fields, playbooks):
    from scoring.rulesets import version_draft

    ruleset = playbooks["general"].ruleset
    version_draft(ruleset=ruleset, by=admin)
    html = client_for(admin).get(f"/rules/{ruleset.pk}/draft/").content.decode()
    assert 'value="attributes.employees" data-operators="eq neq in not_in gt gte lt lte is_set is_blank"' in html
    assert "Renewal date" in html and "compare with a date written as you write dates" in html


def test_the_rule_editor_reads_a_date_as_the_reader_writes_it(client_for, admin, fields, playbooks):
    """Typed "31/03/2027" in Indonesian, kept as 2027-03-31 (one plain form), shown again as the reader writes it."""
    from scoring.rulesets import version_draft
    from tests.pages.test_rules_pages import rule_data

    ruleset = playbooks["general"].ruleset
    draft = version_draft(ruleset=ruleset, by=admin)
    client = client_for(admin)
    client.cookies["django_language"] = "id"
    url = f"/rules/{ruleset.pk}/draft/rules/"
    response = client.post(url, rule_data("new", label="Perpanjangan", field="attributes.renewal", operator="lte",
                                          value="31/03/2027"), HTTP_ACCEPT_LANGUAGE="id")
    assert response.status_code == 302
    rule = draft.rules.get(label="Perpanjangan")
    assert rule.value == "2027-03-31"
    edit = client.get(f"/rules/{ruleset.pk}/draft/rules/{rule.pk}/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert 'value="31-03-2027"' in edit  # the first of the language's date input formats
    client.cookies["django_language"] = "en"
    english = client.get(f"/rules/{ruleset.pk}/draft/rules/{rule.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="2027-03-31"' in english
    refused = client.post(url, rule_data("new", label="Salah", field="attributes.renewal", operator="lte",
                                         value="kapan-kapan"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Enter a date, for example 2027-03-31." in refused.content.decode()
    assert not draft.rules.filter(label="Salah").exists()


def test_the_mapping_page_guesses_and_imports_a_custom_field(client_for, marketer, fields, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import TestCase

    from tests.imports.test_import_views import _mapping_post

    client = client_for(marketer)
    rows = [["Email", "Jumlah karyawan", "Catatan"], ["pabrik@contoh.co.id", "300", "lama"], ["toko@contoh.co.id", "??", ""]]
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post("/import/", {"file": SimpleUploadedFile("pabrik.csv", csv_bytes(rows), content_type="text/csv")})
    job = ImportJob.objects.get()
    page = client.get(f"/import/{job.pk}/mapping/")
    html = page.content.decode()
    assert '<optgroup label="Custom fields">' in html and 'value="field:renewal"' in html
    guessed = {f["column"].value(): f["target"].value() for f in page.context["formset"].forms}
    assert guessed["Jumlah karyawan"] == "field:employees"  # named like the field's Indonesian label
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/import/{job.pk}/mapping/", _mapping_post(page)).status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 2)
    assert Contact.objects.get(email="pabrik@contoh.co.id").attributes == {"employees": 300, "Catatan": "lama"}
    assert [(w["row"], w["column"]) for w in job.warnings] == [(3, "Jumlah karyawan")]


def test_an_import_reads_the_custom_fields_once_not_per_row(fields, run_import):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rows = [["Email", "Karyawan", "segment"]] + [[f"orang{i}@contoh.co.id", str(i), "vip"] for i in range(60)]
    with CaptureQueriesContext(connection) as queries:
        job = run_import(csv_bytes(rows), {"identity": "auto", "columns": {
            "Email": "email", "Karyawan": "field:employees", "segment": "attribute"}})
    assert job.created == 60
    assert sum("contacts_customfield" in q["sql"] for q in queries.captured_queries) <= 3  # start, run: never per row
