"""`seed_demo --from` (behind `make demo DATA=bank`): a real data set from data/, imported through the
importer with its progress bar, scored, with the demo users."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from contacts.models import Contact, ImportJob
from crm.management.commands.seed_demo import DATA_SETS


def test_every_named_data_set_is_in_the_repository_with_its_licence():
    data = Path(settings.BASE_DIR) / "data"
    for file_name in DATA_SETS.values():
        assert (data / file_name).stat().st_size > 1_000_000
        assert file_name in (data / "README.md").read_text()
    assert "CC BY 4.0" in (data / "README.md").read_text()


def test_seed_demo_from_a_data_set_imports_it_through_the_importer(db, reference_data, tmp_path):
    # The first 300 rows of the bank data set, under its own name so the shipped mapping is picked by its header.
    source = Path(settings.BASE_DIR) / "data" / DATA_SETS["bank"]
    sample = tmp_path / "uci_bank_full.csv"
    sample.write_text("".join(source.open(encoding="utf-8").readlines()[:301]), encoding="utf-8")

    out = io.StringIO()
    call_command("seed_demo", data_set=str(sample), with_users=True, stdout=out)

    job = ImportJob.objects.get()
    assert (job.status, job.total_rows, job.created, job.failed) == ("done", 300, 300, 0)
    assert Contact.objects.count() == 300
    assert not Contact.objects.filter(score__isnull=True).exists(), "every imported contact is scored"
    # The shipped mapping: `y` = yes is a purchase, so those rows are customers.
    buyers = sum(1 for line in sample.read_text().splitlines()[1:] if line.endswith('"yes"'))
    assert buyers > 0 and Contact.objects.filter(stage="customer").count() == buyers
    text = out.getvalue()
    assert "300" in text and "admin" in text and "customer" in text


def test_seed_demo_names_the_choices_for_an_unknown_data_set(db, reference_data):
    with pytest.raises(CommandError, match="bank or shoppers"):
        call_command("seed_demo", data_set="nope", stdout=io.StringIO())
