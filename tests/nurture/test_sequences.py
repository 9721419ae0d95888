"""Sequences: enrollment on the stage change, each step once on schedule, and every way out."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from nurture import services
from nurture.models import Delivery, Enrollment
from nurture.sequences import sequence_pause, sequence_save, sequences_run


@pytest.fixture
def lead_sequence(message, marketer):
    """For new education leads: the brochure now, the webinar invitation three days later."""
    return sequence_save(data={"name": "Lead pendidikan", "trigger_stage": "lead", "industry": "education"},
                         steps=[{"wait_days": 0, "message": message("edu-edu-id").pk},
                                {"wait_days": 3, "message": message("edu-webinar-id").pk}], by=marketer)


def make_lead(make_contact, log, kinds=("form_submitted", "form_submitted", "brochure_requested"), **fields):
    """A contact its playbook promotes to lead (for education: two form submissions and a brochure request)."""
    contact = make_contact(**{"full_name": "Dewi Lestari", "industry": "education", "consent_email": True, **fields})
    for kind in kinds:
        log(contact, kind)
    contact.refresh_from_db()
    return contact


def run(now=None, *, on_commit):
    with on_commit():
        return sequences_run(now=now)


def test_a_promo_step_cannot_join_a_lead_sequence(message, marketer):
    with pytest.raises(ValidationError) as refused:
        sequence_save(data={"name": "Salah", "trigger_stage": "lead"}, by=marketer,
                      steps=[{"wait_days": 0, "message": message("all-edu-id").pk},
                             {"wait_days": 1, "message": message("all-promo-id").pk}])
    assert list(refused.value.message_dict) == ["steps.1.message"]
    assert "stage guardrail" in refused.value.message_dict["steps.1.message"][0]


def test_new_leads_are_enrolled_and_get_each_step_once_on_schedule(
        smtp_server, lead_sequence, make_contact, log, playbooks, on_commit):
    lead = make_lead(make_contact, log)
    other = make_lead(make_contact, log, industry="b2b", email="b2b@example.co.id", kinds=["form_submitted"] * 3)
    assert lead.stage == "lead" and other.stage == "lead"
    enrollment = Enrollment.objects.get(contact=lead)
    assert enrollment.status == "active" and not Enrollment.objects.filter(contact=other).exists()

    assert run(on_commit=on_commit) == 1
    assert run(on_commit=on_commit) == 0, "the first step is sent once, however often the run comes"
    assert [m["Subject"] for m in smtp_server.messages()] == ["Brosur program untuk Dewi"]

    assert run(timezone.now() + timedelta(days=2), on_commit=on_commit) == 0, "the second step waits three days"
    assert run(timezone.now() + timedelta(days=3, minutes=1), on_commit=on_commit) == 1
    assert run(timezone.now() + timedelta(days=30), on_commit=on_commit) == 0
    assert len(smtp_server.messages()) == 2
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    assert list(Delivery.objects.filter(enrollment=enrollment).values_list("step_position", "status")) == \
        [(1, "sent"), (0, "sent")]


def test_leaving_the_stage_ends_the_sequence(smtp_server, lead_sequence, make_contact, log, playbooks, on_commit):
    lead = make_lead(make_contact, log)
    run(on_commit=on_commit)
    for kind in ("curriculum_consultation", "campus_visit", "webinar_attended"):
        log(lead, kind)
    lead.refresh_from_db()
    assert lead.stage == "prospect"
    enrollment = Enrollment.objects.get(contact=lead)
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "stage_changed")
    assert run(timezone.now() + timedelta(days=5), on_commit=on_commit) == 0
    assert len(smtp_server.messages()) == 1


def test_unsubscribing_a_rep_taking_over_or_erasure_ends_it(smtp_server, lead_sequence, make_contact, log, playbooks,
                                                           rep, admin, message, on_commit):
    from contacts.privacy import contact_erase
    from contacts.services.consent import consent_set

    unsubscribed = make_lead(make_contact, log, email="a@example.co.id")
    taken = make_lead(make_contact, log, email="b@example.co.id")
    erased = make_lead(make_contact, log, email="c@example.co.id")
    consent_set(contact=unsubscribed, channel="email", granted=False, source="test")
    with on_commit():
        services.message_send(contact=taken, message=message("edu-edu-en"), by=admin)
    contact_erase(contact=erased, by=admin, mode="anonymise")

    run(on_commit=on_commit)
    states = {e.contact_id: (e.status, e.exit_reason) for e in Enrollment.objects.all()}
    assert states[unsubscribed.pk] == ("exited", "unsubscribed")
    assert states[taken.pk] == ("exited", "rep_took_over")
    assert states[erased.pk] == ("exited", "erased")
    # Only the rep's own email went out; no sequence step reached any of them.
    assert [m["To"] for m in smtp_server.messages()] == ["b@example.co.id"]


def test_a_paused_sequence_sends_nothing_until_it_resumes(smtp_server, lead_sequence, make_contact, log, playbooks,
                                                         marketer, on_commit):
    lead = make_lead(make_contact, log)
    sequence_pause(sequence=lead_sequence, paused=True, by=marketer)
    assert run(on_commit=on_commit) == 0
    sequence_pause(sequence=lead_sequence, paused=False, by=marketer)
    assert run(on_commit=on_commit) == 1
    assert Delivery.objects.get().contact == lead


def test_editing_a_sequence_changes_future_steps_only(smtp_server, lead_sequence, make_contact, log, playbooks,
                                                     marketer, message, on_commit):
    make_lead(make_contact, log)
    run(on_commit=on_commit)
    sequence_save(sequence=lead_sequence, data={}, by=marketer,
                  steps=[{"wait_days": 0, "message": message("edu-edu-id").pk},
                         {"wait_days": 1, "message": message("all-edu-id").pk}])
    run(timezone.now() + timedelta(days=3, minutes=1), on_commit=on_commit)
    assert sorted(m["Subject"] for m in smtp_server.messages()) == [
        "Brosur program untuk Dewi", "Dewi, 5 pertanyaan sebelum memutuskan"]


@pytest.mark.postgres
def test_runs_racing_in_four_threads_send_each_step_once(transactional_db, reference_data, lead_sequence, make_contact,
                                                         log, playbooks):
    leads = [make_lead(make_contact, log, email=f"l{n}@example.co.id") for n in range(12)]
    assert Enrollment.objects.filter(status="active").count() == len(leads)
    barrier, errors = threading.Barrier(4), []

    def work():
        try:
            barrier.wait()
            sequences_run()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Delivery.objects.count() == len(leads)
    assert Delivery.objects.values("enrollment", "step_position").distinct().count() == len(leads)


def test_a_message_a_sequence_still_sends_cannot_be_archived(lead_sequence, message, marketer):
    with pytest.raises(ValidationError) as refused:
        services.message_archive(message=message("edu-webinar-id"), by=marketer)
    assert "Lead pendidikan" in refused.value.messages[0] and "step 2" in refused.value.messages[0]
    assert not message("edu-webinar-id").is_archived
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        message("edu-webinar-id").delete()


def test_a_sequence_for_a_segment_takes_only_its_contacts_and_sends_from_its_own_sender(
        smtp_server, message, marketer, make_contact, log, playbooks, client_for, on_commit):
    from contacts.models import Contact, Segment

    instagram = Segment.objects.create(name="Dari Instagram", filters={"source": "instagram"})
    sequence_save(data={"name": "Lead Instagram", "trigger_stage": "lead", "segment": instagram,
                        "from_email": "Tim Kampus <info@kampus.example>"},
                  steps=[{"wait_days": 0, "message": message("edu-edu-id").pk}], by=marketer)
    with pytest.raises(ValidationError) as bad:
        sequence_save(data={"name": "X", "trigger_stage": "lead", "from_email": "not an address"},
                      steps=[{"wait_days": 0, "message": message("edu-edu-id").pk}], by=marketer)
    assert list(bad.value.message_dict) == ["from_email"]

    from_instagram = make_lead(make_contact, log, source="instagram", email="ig@example.co.id")
    elsewhere = make_lead(make_contact, log, source="facebook", email="fb@example.co.id")
    assert Contact.objects.get(pk=from_instagram.pk).stage == "lead" == Contact.objects.get(pk=elsewhere.pk).stage
    assert list(Enrollment.objects.values_list("contact", flat=True)) == [from_instagram.pk]

    run(on_commit=on_commit)
    (received,) = smtp_server.messages()
    assert received["From"] == "Tim Kampus <info@kampus.example>" and received["To"] == "ig@example.co.id"
    page = client_for(marketer).get(f"/contacts/{from_instagram.pk}/").content.decode()
    assert "Lead Instagram" in page and "Completed" in page
