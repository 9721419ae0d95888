"""Retention: contacts with no activity for N months are anonymised by a beat-able task;
the command's dry run reports who without changing anything."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from contacts import privacy
from contacts.models import Contact
from contacts.privacy.tasks import retention_run_task
from contacts.services import note_add
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def aged(make_contact, log, rep):
    """Four contacts created 30 months ago: idle, recently active, recently noted by a rep,
    and one with only a recent system note (which is not activity)."""
    old = timezone.now() - timedelta(days=30 * 31)
    people = {name: make_contact(full_name=name.title(), email=f"{name}@example.co.id") for name in ("idle", "active", "noted", "system")}
    Contact.objects.filter(pk__in=[c.pk for c in people.values()]).update(created_at=old)
    log(people["idle"], "page_viewed", occurred_at=old)
    log(people["active"], "page_viewed", occurred_at=timezone.now() - timedelta(days=3))
    note_add(contact=people["noted"], author=rep, body="Still interested, call in June")
    note_add(contact=people["system"], author=None, kind="system", body="Assigned by round-robin.")
    return people


def test_dry_run_reports_and_changes_nothing(aged):
    audited = AuditEvent.objects.count()
    report = privacy.retention_run(months=24, dry_run=True)
    assert report.candidates == 2
    assert set(report.sample_ids) == {aged["idle"].pk, aged["system"].pk}
    assert report.anonymised == 0
    assert not any(privacy.is_anonymised(c) for c in Contact.objects.all())
    assert AuditEvent.objects.count() == audited


def test_run_anonymises_only_inactive_contacts_and_a_rerun_does_nothing(aged):
    report = privacy.retention_run(months=24, dry_run=False)
    assert report.anonymised == 2
    anonymised = {c.pk for c in Contact.objects.all() if privacy.is_anonymised(c)}
    assert anonymised == {aged["idle"].pk, aged["system"].pk}
    assert Contact.objects.get(pk=aged["idle"].pk).email is None
    assert Contact.objects.get(pk=aged["active"].pk).email == "active@example.co.id"
    assert AuditEvent.objects.filter(action="anonymise", details__reason="retention").count() == 2
    assert AuditEvent.objects.filter(object_type="contacts.retention").get().details["anonymised"] == 2
    assert privacy.retention_run(months=24, dry_run=False).anonymised == 0


def test_a_longer_period_spares_everyone(aged):
    assert privacy.retention_run(months=36, dry_run=True).candidates == 0


@pytest.mark.parametrize("months", [0, -3])
def test_months_must_be_positive(months):
    with pytest.raises(ValidationError):
        privacy.retention_run(months=months)


def test_task_uses_the_setting_and_is_off_without_it(aged, settings):
    settings.CRM_RETENTION_MONTHS = 0
    assert retention_run_task.delay().get() == 0
    settings.CRM_RETENTION_MONTHS = 24
    assert retention_run_task.delay().get() == 2
    assert retention_run_task.delay(months=24).get() == 0


def test_command_dry_run_prints_a_report(aged):
    out = StringIO()
    call_command("apply_retention", "--months", "24", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "Contacts matching: 2" in text and "Dry run" in text
    assert str(aged["idle"].pk) in text
    assert not any(privacy.is_anonymised(c) for c in Contact.objects.all())
    call_command("apply_retention", "--months", "24", stdout=out)
    assert "Anonymised 2 contacts." in out.getvalue()


def test_command_needs_months(settings):
    settings.CRM_RETENTION_MONTHS = 0
    with pytest.raises(CommandError):
        call_command("apply_retention", "--dry-run", stdout=StringIO())
