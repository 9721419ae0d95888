"""An outcome column ("Converted: 1") logs the conversion of each contact's industry, resolved
when the row is written: a converted person becomes a customer under every industry playbook,
and an outcome never becomes an activity or count the score adds up."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command

from contacts.imports.validation import OUTCOME
from contacts.models import Contact, ImportJob, Industry, Interaction, InteractionKind
from scoring.selectors import active_rulesets, outcome_conversion_kinds

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# fixture -> (its identity column, its outcome column)
OUTCOME_FILES = {"leadsquared_leads.csv": ("Prospect ID", "Converted"), "salesforce_leads_report.csv": ("Lead ID", "Converted")}


def _converted(name: str) -> set[str]:
    ref, outcome = OUTCOME_FILES[name]
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return {row[ref] for row in csv.DictReader(handle) if row[ref] and row[outcome] == "1"}


@pytest.mark.parametrize("industry", ["", *Industry.values])
@pytest.mark.parametrize("name", sorted(OUTCOME_FILES))
def test_a_converted_person_is_a_customer_under_every_playbook(run_import, playbooks, name, industry):
    overrides = {"defaults": {"industry": industry}} if industry else {}
    job = run_import((FIXTURES / name).read_bytes(), name=name, **overrides)

    assert job.mapping["columns"]["Converted"] == {"target": "outcome"}
    customers = set(Contact.objects.filter(stage="customer").values_list("external_ref", flat=True))
    assert customers == _converted(name)
    rulesets = active_rulesets()
    conversion = set(InteractionKind.objects.filter(intent_level="conversion").values_list("slug", flat=True))
    logged = Interaction.objects.filter(kind__in=conversion).select_related("contact")
    assert logged.count() == len(customers)
    for interaction in logged:
        # The kind the rule set scoring this contact counts as its conversion.
        assert interaction.kind_id in rulesets.for_industry(interaction.contact.industry).policy.conversion_kinds
        assert interaction.data["import_column"] == "Converted"  # only the outcome column logs a conversion
    assert not Interaction.objects.filter(kind=OUTCOME).exists()


def test_the_conversion_is_the_industrys_own(run_import, playbooks):
    """The Salesforce file names each row's industry: the education school enrols, the clinic
    books an appointment; an import with --industry education logs `enrolled` for everyone."""
    run_import((FIXTURES / "salesforce_leads_report.csv").read_bytes(), name="salesforce_leads_report.csv")
    assert dict(Interaction.objects.filter(data__import_column="Converted").values_list("contact__industry", "kind")) == {
        "education": "enrolled", "healthcare": "appointment_booked"}

    Contact.objects.all().delete()
    run_import((FIXTURES / "leadsquared_leads.csv").read_bytes(), name="ls.csv", defaults={"industry": "education"})
    assert Counter(Interaction.objects.filter(data__import_column="Converted").values_list("kind", flat=True)) == {
        "enrolled": 15}


def test_without_a_published_rule_set_the_industry_playbooks_conversion(reference_data):
    assert outcome_conversion_kinds() == {"": "purchase", "ecommerce": "purchase", "b2b": "contract_signed",
                                          "healthcare": "appointment_booked", "education": "enrolled", "other": "purchase"}


def test_an_existing_contacts_industry_decides_and_a_reimport_logs_nothing_twice(run_import, playbooks, make_contact):
    make_contact(email="rina@kampus.ac.id", full_name="Rina", industry="education")
    content = b"Email,Converted\r\nrina@kampus.ac.id,yes\r\nbudi@toko.id,yes\r\nsari@toko.id,no\r\n"
    run_import(content, name="won.csv")
    run_import(content, name="won.csv")  # the same file again: nothing new

    kinds = dict(Interaction.objects.values_list("contact__email", "kind"))
    assert kinds == {"rina@kampus.ac.id": "enrolled", "budi@toko.id": "purchase"}
    assert dict(Contact.objects.values_list("email", "stage")) == {
        "rina@kampus.ac.id": "customer", "budi@toko.id": "customer", "sari@toko.id": "contact"}


def test_show_mapping_says_what_the_outcome_logs(playbooks, tmp_path):
    out = io.StringIO()
    path = tmp_path / "salesforce.csv"
    path.write_bytes((FIXTURES / "salesforce_leads_report.csv").read_bytes())
    call_command("import_contacts", str(path), "--show-mapping", stdout=out)
    assert ("Converted: yes/no values such as “0”, “1” → outcome: when yes, the conversion of the contact's industry "
            "(purchase; b2b: contract_signed; healthcare: appointment_booked; education: enrolled)") in out.getvalue()


def test_the_mapping_page_shows_the_outcome_and_its_post_keeps_it(client_for, admin, playbooks):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import TestCase

    from .test_import_views import _mapping_post

    client = client_for(admin)
    content = (FIXTURES / "salesforce_leads_report.csv").read_bytes()
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post("/import/", {"file": SimpleUploadedFile("sf.csv", content, content_type="text/csv")})
    job = ImportJob.objects.get()
    page = client.get(f"/import/{job.pk}/mapping/")
    html = page.content.decode()
    assert "outcome: when yes, the conversion of the contact&#x27;s industry" in html
    assert "Outcome: converted (yes = the conversion of the contact&#x27;s industry)" in html  # a target to choose

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(f"/import/{job.pk}/mapping/", _mapping_post(page)).status_code == 302
    job.refresh_from_db()
    assert job.mapping["columns"]["Converted"] == {"target": "outcome"} and job.status == "done"
    assert Contact.objects.filter(stage="customer").count() == 2
