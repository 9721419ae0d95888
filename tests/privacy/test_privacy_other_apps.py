"""Issue 15, finding 6 (the rest): the access export lists what other apps hold about the
person (nurture: each message sent, each sequence), through a registry in contacts.privacy
that nurture fills in its AppConfig.ready(), so contacts never imports nurture; deleting
cascades to those rows and anonymising leaves only ids, statuses and times in them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from contacts import privacy
from nurture.models import Delivery, Enrollment, Message, Purpose, Sequence

pytestmark = pytest.mark.django_db

EMAIL = "rina.wijaya@example.co.id"


@pytest.fixture
def rina(make_contact, admin):
    contact = make_contact(full_name="Rina Wijaya", email=EMAIL, consent_email=True)
    message = Message.objects.create(name="Selamat datang", purpose=Purpose.ONBOARDING, subject="Halo {{ first_name }}",
                                     body="Terima kasih")
    sequence = Sequence.objects.create(name="Sambutan", trigger_stage="lead")
    enrollment = Enrollment.objects.create(sequence=sequence, contact=contact)
    now = timezone.now()
    Delivery.objects.create(contact=contact, message=message, channel="email", status="sent", enrollment=enrollment,
                            step_position=0, sent_at=now, opened_at=now, clicked_at=now)
    Delivery.objects.create(contact=contact, message=message, channel="email", status="bounced",
                            error=f"550 5.1.1 <{EMAIL}>: mailbox unavailable")
    return contact


def test_the_access_export_lists_deliveries_and_enrollments(rina, admin):
    data = privacy.subject_access_export(contact=rina, by=admin)
    json.dumps(data, cls=DjangoJSONEncoder)
    assert {"deliveries", "enrollments"} <= set(privacy.export_sections())
    sent, bounced = data["deliveries"]
    assert (sent["status"], sent["message_name"], sent["step"]) == ("sent", "Selamat datang", 0)
    assert sent["opened_at"] and sent["clicked_at"] and sent["unsubscribed_at"] is None
    assert bounced["status"] == "bounced" and EMAIL in bounced["error"]
    (enrollment,) = data["enrollments"]
    assert (enrollment["sequence_name"], enrollment["status"]) == ("Sambutan", "active")


def test_deleting_a_contact_deletes_its_deliveries_and_enrollments(rina, admin):
    privacy.contact_erase(contact=rina, by=admin, mode="delete")
    assert not Delivery.objects.exists() and not Enrollment.objects.exists()


def test_anonymising_leaves_only_ids_statuses_and_times(rina, admin):
    privacy.contact_erase(contact=rina, by=admin, mode="anonymise")
    assert Delivery.objects.count() == 2 and Enrollment.objects.count() == 1  # statistics keep their rows
    assert not Delivery.objects.exclude(error="").exists()
    dump = json.dumps(privacy.subject_access_export(contact=rina, by=admin), cls=DjangoJSONEncoder)
    for value in (EMAIL, "Rina", "Wijaya", "rina.wijaya"):
        assert value not in dump


def test_contacts_does_not_import_nurture():
    root = Path(settings.BASE_DIR) / "contacts"
    offenders = [str(path.relative_to(root)) for path in root.rglob("*.py")
                 if any(line.lstrip().startswith(("import nurture", "from nurture"))
                        for line in path.read_text(encoding="utf-8").splitlines())]
    assert offenders == []
