"""The shared public data sets, imported end to end through the service with their saved
mappings: counts reconciled (imported + failed = rows in the file) and failures explained."""

from __future__ import annotations

import csv
import time

import pytest

from contacts.imports.mapping import mapping_load
from contacts.imports.run import import_file
from contacts.models import Contact, Interaction

from .conftest import DATA_DIR

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _file_rows(path) -> tuple[int, int]:
    """Data rows in the file and how many have a positive label, counted independently of the importer."""
    with path.open(newline="", encoding="utf-8") as handle:
        sample = handle.readline()
        handle.seek(0)
        reader = csv.DictReader(handle, delimiter=";" if sample.count(";") > sample.count(",") else ",")
        label = "y" if "y" in reader.fieldnames else "Revenue"
        rows = positives = 0
        for row in reader:
            rows += 1
            positives += row[label].strip().lower() in ("yes", "true")
    return rows, positives


def _import(name: str, capsys):
    path = DATA_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the shared data sets are part of the CI checkout")
    started = time.monotonic()
    job = import_file(path=path, mapping=mapping_load(path.stem))
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\n{name}: {job.total_rows} rows in {elapsed:.1f}s ({job.total_rows / elapsed:,.0f} rows/s) — {job.message}")
    return path, job


def _reconcile(path, job, source: str) -> None:
    rows, positives = _file_rows(path)
    assert job.status == "done"
    assert job.total_rows == job.rows_done == rows
    # Imported + failed = rows in the file; every failure is explained with its row and reason.
    assert job.created + job.updated + job.skipped + job.failed == rows
    assert all(e["reason"] and e["values"] and e["row"] >= 2 for e in job.errors)
    assert len(job.errors) == job.failed
    assert Contact.objects.filter(external_source=source).count() == job.created
    # The outcome column became exactly one conversion per positive row.
    assert Interaction.objects.filter(kind="purchase", source=source).count() == positives


def test_uci_bank_marketing_imports_with_row_references_and_no_leaking_duration(playbooks, capsys):
    path, job = _import("uci_bank_full.csv", capsys)

    _reconcile(path, job, "uci_bank_marketing")
    assert (job.created, job.failed) == (45_211, 0)  # anonymous rows: source + row number, no wall of errors
    first = Contact.objects.get(external_source="uci_bank_marketing", external_ref="row:2")
    # 58;"management";"married";"tertiary";"no";2143;"yes";"no";"unknown";5;"may";261;1;-1;0;"unknown";"no"
    assert first.attributes == {"age": "58", "job": "management", "marital": "married", "education": "tertiary",
                                "default": "no", "balance": "2143", "housing": "yes", "loan": "no", "day": "5",
                                "month": "may", "campaign": "1", "previous": "0"}
    assert not Contact.objects.filter(attributes__has_key="duration").exists()  # it leaks the outcome
    assert not Contact.objects.filter(attributes__pdays="-1").exists()  # -1 means "never contacted"
    buyers = Contact.objects.filter(interactions__kind="purchase", external_source="uci_bank_marketing")
    assert buyers.count() == buyers.filter(stage="customer").count() > 5000  # scored by the one bulk rescore
    assert not Contact.objects.filter(needs_rescore=True).exists()


def test_uci_online_shoppers_imports_revenue_as_a_conversion(playbooks, capsys):
    path, job = _import("uci_online_shoppers_intention.csv", capsys)

    _reconcile(path, job, "uci_online_shoppers")
    assert (job.created, job.failed) == (12_330, 0)
    first = Contact.objects.get(external_source="uci_online_shoppers", external_ref="row:2")
    assert (first.industry, first.attributes["Month"], first.attributes["Weekend"]) == ("ecommerce", "Feb", "FALSE")
    assert "Revenue" not in first.attributes
    customers = Contact.objects.filter(external_source="uci_online_shoppers", stage="customer").count()
    assert customers == Interaction.objects.filter(kind="purchase").count() == 1908
