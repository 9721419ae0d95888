"""crm.rows.row_insert writes what Model.save() writes (defaults, pre_save, JSON, foreign keys), and
with unless_taken answers a taken key with False instead of an error, leaving the transaction usable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from contacts.models import Interaction
from crm.models import AuditEvent
from crm.rows import row_insert

pytestmark = pytest.mark.django_db


def _columns(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields if not f.primary_key}


def test_a_row_reads_back_as_the_orm_would_have_written_it(make_contact, reference_data, marketer):
    contact = make_contact()
    when = timezone.now() - timedelta(hours=3)
    values = dict(contact=contact, kind_id="price_requested", occurred_at=when, channel="whatsapp",
                  data={"product": "paket A", "n": [1, None, {"x": "é"}]}, source="wa", external_id="k-1", created_by=marketer)
    ours = Interaction(**values)
    assert row_insert(ours) is True
    theirs = Interaction.objects.create(**{**values, "external_id": "k-2"})
    assert ours.pk and ours.pk != theirs.pk and not ours._state.adding
    stored, reference = Interaction.objects.get(pk=ours.pk), Interaction.objects.get(pk=theirs.pk)
    assert {**_columns(stored), "external_id": None, "created_at": None} == {**_columns(reference), "external_id": None, "created_at": None}
    assert stored.created_at == ours.created_at  # the default taken at construction, as save() would


def test_defaults_and_a_null_foreign_key(marketer):
    event = AuditEvent(actor=None, action="change", object_type="contacts.contact", object_id="7", details={"fields": ["stage"]})
    assert row_insert(event) is True
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_id is None and stored.details == {"fields": ["stage"]} and stored.at == event.at


def test_a_taken_key_writes_nothing_and_keeps_the_transaction_usable(make_contact, reference_data):
    contact = make_contact()
    first = Interaction(contact=contact, kind_id="page_viewed", source="s", external_id="same")
    assert row_insert(first, unless_taken=True) is True
    with transaction.atomic():
        twin = Interaction(contact=contact, kind_id="email_opened", source="s", external_id="same")
        assert row_insert(twin, unless_taken=True) is False
        assert twin.pk is None and twin._state.adding
        # No error was raised, so the same transaction goes on writing.
        assert row_insert(Interaction(contact=contact, kind_id="page_viewed", source="s", external_id="other"), unless_taken=True)
    assert sorted(Interaction.objects.filter(source="s").values_list("external_id", "kind_id")) == [
        ("other", "page_viewed"), ("same", "page_viewed")]


def test_rows_without_a_key_never_conflict(make_contact, reference_data):
    contact = make_contact()
    for _ in range(2):
        assert row_insert(Interaction(contact=contact, kind_id="page_viewed", source="s", external_id=None), unless_taken=True)
    assert Interaction.objects.filter(contact=contact, source="s").count() == 2


@pytest.mark.parametrize("model", [Interaction, AuditEvent])
def test_the_models_written_this_way_have_no_save_receivers(model):
    # row_insert skips save()'s signals: a receiver added to these models would silently not run.
    assert not pre_save.has_listeners(model) and not post_save.has_listeners(model)
