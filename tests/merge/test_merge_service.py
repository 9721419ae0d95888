"""The merge service: chosen fields (validated), the preview, and undo within the window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts import merge
from contacts.models import ConsentRecord, Contact, ContactMerge, Interaction, Note
from contacts.privacy import contact_erase
from contacts.services import note_add
from crm.models import AuditEvent
from followup.models import Task

pytestmark = pytest.mark.django_db


def test_chosen_fields_win_over_the_defaults(make_contact, marketer):
    kept = make_contact(full_name="Budi Santoso", email="budi@contoh.co.id", city="Bandung", company="")
    other = make_contact(full_name="Budi S.", email="budi.kantor@contoh.co.id", city="Jakarta", company="PT Maju")

    merge.contacts_merge(kept=kept, merged=other, by=marketer,
                         choices={"email": "budi.kantor@contoh.co.id", "city": "Bandung", "full_name": "Budi S."})

    kept.refresh_from_db()
    assert (kept.full_name, kept.email, kept.city, kept.company) == ("Budi S.", "budi.kantor@contoh.co.id", "Bandung", "PT Maju")
    assert AuditEvent.objects.get(action="merge").details["chosen"] == ["city", "email", "full_name"]


def test_choosing_the_kept_value_over_a_blank_fill_keeps_it_blank(make_contact):
    kept = make_contact(email="a@contoh.co.id", city="")
    other = make_contact(email="b@contoh.co.id", city="Medan")

    merge.contacts_merge(kept=kept, merged=other, choices={"city": ""})

    kept.refresh_from_db()
    assert kept.city == ""


def test_a_choice_that_is_not_mergeable_or_from_neither_record_is_refused_naming_the_field(make_contact):
    kept, other = make_contact(city="Bandung"), make_contact(city="Jakarta")

    with pytest.raises(ValidationError) as refused:
        merge.contacts_merge(kept=kept, merged=other, choices={"city": "Surabaya", "score": 99})

    assert set(refused.value.message_dict) == {"city", "score"}
    assert "City" in refused.value.message_dict["city"][0]
    assert Contact.objects.filter(pk=other.pk).exists()  # nothing happened
    assert not ContactMerge.objects.exists()


def test_preview_shows_differences_defaults_consent_and_what_moves(make_contact, log, marketer):
    kept = make_contact(email="a@contoh.co.id", city="", consent_email=True)
    ConsentRecord.objects.create(contact=kept, channel="sms", granted=False, recorded_at=timezone.now())
    other = make_contact(email="b@gmail.com", city="Medan", consent_sms=True, consent_whatsapp=True, objects_to_profiling=True)
    log(other, "page_viewed")
    Task.objects.create(contact=other, due_at=timezone.now())

    preview = merge.merge_preview(kept=kept, merged=other)

    fields = {f.name: f for f in preview.fields}
    assert fields["city"].differs and fields["city"].default == "merged"
    assert fields["email"].differs and fields["email"].default == "kept"
    assert not fields["company"].differs
    assert preview.different_emails
    # As the merge will carry it: the withdrawn SMS stays withdrawn, the rest carries over.
    assert preview.consent == {"consent_email": True, "consent_whatsapp": True, "consent_sms": False,
                               "do_not_contact": False, "objects_to_profiling": True}
    moving = dict(preview.moving)
    assert moving["interactions"] == 1 and any(n == 1 for label, n in preview.moving if "task" in label.lower())


def test_same_mailbox_written_differently_is_not_a_different_email(make_contact):
    kept, other = make_contact(email="budi.santoso@gmail.com"), make_contact(email="budisantoso+x@gmail.com")
    assert not merge.merge_preview(kept=kept, merged=other).different_emails


def _merge_with_history(make_contact, log, marketer):
    kept = make_contact(full_name="Budi", email="budi@contoh.co.id", city="", tags=["vip"])
    other = make_contact(full_name="Budi S.", email="budi.s@gmail.com", phone="0812-3456-7890", city="Jakarta",
                         consent_whatsapp=True, tags=["expo"], attributes={"ukuran": "L"})
    log(kept, "page_viewed")
    log(other, "price_requested")
    note = note_add(contact=other, author=marketer, body="Minta ditelepon sore")
    task = Task.objects.create(contact=other, due_at=timezone.now())
    other_id = other.pk
    record = merge.contacts_merge(kept=kept, merged=other, by=marketer)
    return kept, other_id, record, {"note": note.pk, "task": task.pk}


def test_undo_restores_the_merged_contact_and_what_moved(make_contact, log, marketer, django_capture_on_commit_callbacks):
    kept, other_id, record, ids = _merge_with_history(make_contact, log, marketer)
    kept.refresh_from_db()
    assert kept.phone == "+6281234567890" and kept.city == "Jakarta" and kept.consent_whatsapp
    assert set(record.undo_data["moved"]) >= {"contacts.interaction.contact", "contacts.note.contact", "followup.task.contact"}

    with django_capture_on_commit_callbacks(execute=True):
        restored = merge.merge_undo(record=record, by=marketer)

    assert restored.pk == other_id
    restored.refresh_from_db()
    kept.refresh_from_db()
    assert (restored.full_name, restored.email, restored.phone, restored.city) == (
        "Budi S.", "budi.s@gmail.com", "+6281234567890", "Jakarta")
    assert restored.consent_whatsapp and restored.attributes == {"ukuran": "L"}
    assert set(restored.tags.values_list("name", flat=True)) == {"expo"}
    assert restored.interactions.filter(kind_id="price_requested").count() == 1
    assert Note.objects.get(pk=ids["note"]).contact_id == other_id
    assert Task.objects.get(pk=ids["task"]).contact_id == other_id
    assert kept.interactions.filter(kind_id="page_viewed").count() == 1 and not kept.interactions.exclude(kind_id="page_viewed").exists()
    # The kept contact's filled values, tags and carried opt-in go back.
    assert (kept.phone, kept.city, kept.attributes) == (None, "", {})
    assert set(kept.tags.values_list("name", flat=True)) == {"vip"}
    assert not kept.consent_whatsapp
    record.refresh_from_db()
    assert record.undone_at is not None and record.undone_by == marketer
    assert AuditEvent.objects.filter(action="merge_undo", object_id=str(kept.pk)).exists()
    with pytest.raises(ValidationError, match="already been undone"):
        merge.merge_undo(record=record, by=marketer)


def test_undo_keeps_a_value_edited_since_the_merge(make_contact, log, marketer):
    kept, _other_id, record, _ids = _merge_with_history(make_contact, log, marketer)
    Contact.objects.filter(pk=kept.pk).update(city="Bogor")

    merge.merge_undo(record=record, by=marketer)

    kept.refresh_from_db()
    assert kept.city == "Bogor" and kept.phone is None


def test_undo_is_refused_after_the_window(make_contact, log, marketer, settings):
    settings.CRM_MERGE_UNDO_HOURS = 24
    _kept, other_id, record, _ids = _merge_with_history(make_contact, log, marketer)
    ContactMerge.objects.filter(pk=record.pk).update(merged_at=timezone.now() - timedelta(hours=25))
    record.refresh_from_db()

    with pytest.raises(ValidationError, match="24 hours"):
        merge.merge_undo(record=record, by=marketer)
    assert not Contact.objects.filter(pk=other_id).exists()


def test_undo_is_refused_once_the_kept_contact_is_merged_again_or_erased(make_contact, log, marketer, admin):
    kept, other_id, record, _ids = _merge_with_history(make_contact, log, marketer)
    third = make_contact(email="c@contoh.co.id")
    merge.contacts_merge(kept=third, merged=kept, by=marketer)
    record.refresh_from_db()
    assert "merged into another" in merge.merge_undo_refusal(record)

    kept2 = make_contact(email="d@contoh.co.id")
    other2 = make_contact(email="e@contoh.co.id")
    record2 = merge.contacts_merge(kept=kept2, merged=other2, by=marketer)
    contact_erase(contact=kept2, by=admin, mode="anonymise")
    record2.refresh_from_db()
    with pytest.raises(ValidationError, match="erased"):
        merge.merge_undo(record=record2, by=marketer)
    assert not Contact.objects.filter(pk__in=[other_id, other2.pk]).exists()


def test_only_the_latest_merge_into_a_contact_can_be_undone(make_contact):
    a, b, c = make_contact(), make_contact(), make_contact()
    first = merge.contacts_merge(kept=a, merged=b)
    second = merge.contacts_merge(kept=a, merged=c)
    first.refresh_from_db()

    assert "undo that first" in merge.merge_undo_refusal(first)
    assert merge.merges_undoable(kept=a) == [second]
    merge.merge_undo(record=second)
    assert merge.merges_undoable(kept=a) == [first]


def test_a_merged_pair_cannot_be_merged_twice(make_contact):
    a, b = make_contact(), make_contact()
    merge.contacts_merge(kept=a, merged=b)
    with pytest.raises(ValidationError):
        merge.contacts_merge(kept=a, merged=b)
    assert ContactMerge.objects.count() == 1


def test_interactions_are_restored_with_their_ids(make_contact, log, marketer):
    kept, other_id, record, _ids = _merge_with_history(make_contact, log, marketer)
    moved = set(record.undo_data["moved"]["contacts.interaction.contact"])
    merge.merge_undo(record=record, by=marketer)
    assert set(Interaction.objects.filter(contact_id=other_id).values_list("pk", flat=True)) == moved
