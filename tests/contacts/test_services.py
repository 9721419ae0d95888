"""The ingestion services: normalisation, de-duplication, idempotent interactions, notes."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.models import Contact, Interaction, Note
from contacts.services import (
    Event,
    contact_upsert,
    interaction_log,
    interactions_log_many,
    normalize_email,
    normalize_phone,
    note_add,
    note_complete,
)
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0812-3456-7890", "+6281234567890"), ("+62 812 3456 7890", "+6281234567890"), ("62812-3456-7890", "+6281234567890"),
     ("(021) 555-1234", "+62215551234"), ("", None), (None, None)],
)
def test_phone_is_stored_in_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12", "not a phone", "0812"])
def test_unparseable_phone_is_refused(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_email_is_lowercased_and_trimmed():
    assert normalize_email("  Budi.Santoso@Contoh.CO.ID ") == "budi.santoso@contoh.co.id"
    assert normalize_email("") is None
    with pytest.raises(ValidationError):
        normalize_email("budi@")


def test_upsert_creates_then_merges_without_overwriting_with_blanks():
    first = contact_upsert(data={"full_name": "Budi Santoso", "email": "BUDI@contoh.co.id", "company": "PT Maju"})
    assert first.created and first.contact.email == "budi@contoh.co.id"
    again = contact_upsert(data={"email": "budi@contoh.co.id", "company": "", "city": "Bandung", "phone": "0812-3456-7890"})
    assert not again.created and again.contact.pk == first.contact.pk
    budi = Contact.objects.get()
    assert (budi.company, budi.city, budi.phone) == ("PT Maju", "Bandung", "+6281234567890")
    assert again.changed == {"city", "phone"}


def test_upsert_matches_by_phone_in_any_format():
    first = contact_upsert(data={"full_name": "Siti", "phone": "+62 812 3456 7890"}).contact
    second = contact_upsert(data={"phone": "0812-3456-7890", "email": "siti@contoh.co.id"})
    assert second.contact.pk == first.pk and not second.created
    assert Contact.objects.get().email == "siti@contoh.co.id"


def test_upsert_does_not_steal_an_identity_held_by_another_contact():
    a = contact_upsert(data={"email": "a@contoh.co.id"}).contact
    contact_upsert(data={"phone": "0812-1111-2222"})
    result = contact_upsert(data={"email": "a@contoh.co.id", "phone": "0812-1111-2222"})
    assert result.contact.pk == a.pk
    assert Contact.objects.get(pk=a.pk).phone is None, "the phone belongs to the other contact"


def test_upsert_validation_names_each_bad_field():
    with pytest.raises(ValidationError) as exc:
        contact_upsert(data={"email": "nope@", "phone": "12", "industry": "mining"})
    assert set(exc.value.message_dict) == {"email", "phone", "industry"}
    assert Contact.objects.count() == 0


def test_upsert_refuses_unknown_fields_and_no_identity():
    with pytest.raises(ValidationError) as exc:
        contact_upsert(data={"email": "x@contoh.co.id", "score": 100})
    assert "score" in exc.value.message_dict
    with pytest.raises(ValidationError):
        contact_upsert(data={"company": "PT Tanpa Nama"})


def test_consent_opt_in_fills_but_upsert_never_withdraws():
    contact_upsert(data={"email": "c@contoh.co.id", "consent_email": True})
    contact_upsert(data={"email": "c@contoh.co.id", "consent_email": False})
    assert Contact.objects.get().consent_email is True


def test_email_and_phone_unique_in_the_database():
    Contact.objects.create(email="dup@contoh.co.id")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(email="dup@contoh.co.id")
    Contact.objects.create(phone="+6281234567890")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(phone="+6281234567890")
    # Absent identities are NULL, and many contacts may lack them.
    Contact.objects.create(full_name="No email 1")
    Contact.objects.create(full_name="No email 2")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_of_one_email_make_one_contact():
    if connection.vendor != "postgresql":
        skip_or_fail("SQLite serialises writers; the race needs PostgreSQL")
    barrier = threading.Barrier(4)
    errors = []

    def create(n):
        try:
            barrier.wait()
            contact_upsert(data={"email": "race@contoh.co.id", "full_name": f"Racer {n}", "city": f"City {n}"})
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Contact.objects.filter(email="race@contoh.co.id").count() == 1


def test_interaction_external_id_makes_a_retry_a_no_op(playbooks):
    person = contact_upsert(data={"email": "e@contoh.co.id"}).contact
    first = interaction_log(contact=person, kind="ad_clicked", source="meta-ads", external_id="evt-1")
    retry = interaction_log(contact=person, kind="ad_clicked", source="meta-ads", external_id="evt-1")
    assert first.created and not retry.created and retry.interaction.pk == first.interaction.pk
    # The same id from another source is another event.
    other = interaction_log(contact=person, kind="ad_clicked", source="google-ads", external_id="evt-1")
    assert other.created
    assert Interaction.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_store_one_interaction(reference_data):
    if connection.vendor != "postgresql":
        skip_or_fail("SQLite serialises writers; the race needs PostgreSQL")
    person = contact_upsert(data={"email": "r@contoh.co.id"}, rescore=False).contact
    barrier = threading.Barrier(4)
    results = []

    def post():
        try:
            barrier.wait()
            results.append(interaction_log(contact=person, kind="ad_clicked", source="shop", external_id="order-9", rescore=False))
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Interaction.objects.filter(external_id="order-9").count() == 1
    assert len({r.interaction.pk for r in results}) == 1 and sum(r.created for r in results) == 1


def test_interaction_validation_names_the_field():
    person = contact_upsert(data={"email": "v@contoh.co.id"}).contact
    with pytest.raises(ValidationError) as exc:
        interaction_log(contact=person, kind="teleported")
    assert "kind" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        interaction_log(contact=person, kind="ad_clicked", occurred_at=timezone.now() + timedelta(hours=1))
    assert "occurred_at" in exc.value.message_dict
    # A little clock skew is tolerated.
    assert interaction_log(contact=person, kind="ad_clicked", occurred_at=timezone.now() + timedelta(minutes=2)).created


def test_interaction_updates_last_activity_and_marks_for_scoring():
    person = contact_upsert(data={"email": "l@contoh.co.id"}, rescore=False).contact
    earlier, later = timezone.now() - timedelta(days=3), timezone.now() - timedelta(days=1)
    interaction_log(contact=person, kind="page_viewed", occurred_at=later, rescore=False)
    interaction_log(contact=person, kind="page_viewed", occurred_at=earlier)
    person.refresh_from_db()
    assert person.last_interaction_at == later
    assert person.needs_rescore  # on_commit has not run: the durable mark is there


def test_a_batch_of_events_is_written_in_bulk_like_one_by_one(django_assert_max_num_queries):
    """interactions_log_many: replays (stored before, or earlier in the same batch) return the
    first row; each contact's last activity is its newest event; a few queries in all."""
    people = [contact_upsert(data={"email": f"b{i}@contoh.co.id"}, rescore=False).contact for i in range(3)]
    first = interaction_log(contact=people[0], kind="ad_clicked", source="ads", external_id="a-1", rescore=False).interaction
    now = timezone.now()
    events = [Event(contact=people[i % 3], kind="page_viewed", occurred_at=now - timedelta(hours=i), source="web",
                    external_id=f"w-{i}") for i in range(30)]
    events += [Event(contact=people[0], kind="ad_clicked", source="ads", external_id="a-1"),  # stored before
               Event(contact=people[1], kind="page_viewed", source="web", external_id="w-4"),  # earlier in this batch
               Event(contact=people[2], kind="form_submitted", occurred_at=now - timedelta(days=5),
                     data={"form": "brosur"})]  # no external id
    with django_assert_max_num_queries(12):
        logged = interactions_log_many(events=events)
    assert [item.created for item in logged] == [True] * 30 + [False, False, True]
    assert logged[30].interaction.pk == first.pk and logged[31].interaction.pk == logged[4].interaction.pk
    assert Interaction.objects.count() == 32
    for i, person in enumerate(people):
        person.refresh_from_db()
        assert person.last_interaction_at == now - timedelta(hours=i) and person.needs_rescore
    assert Interaction.objects.get(kind_id="form_submitted").data == {"form": "brosur"}


def test_a_batch_with_a_bad_event_writes_nothing_and_names_each_problem():
    person = contact_upsert(data={"email": "x@contoh.co.id"}, rescore=False).contact
    events = [Event(contact=person, kind="page_viewed"), Event(contact=person, kind="teleported"),
              Event(contact=person, kind="ad_clicked", occurred_at=timezone.now() + timedelta(days=1)),
              Event(contact=person, kind="ad_clicked", source="web\x00")]
    with pytest.raises(ValidationError) as exc:
        interactions_log_many(events=events)
    assert sorted(exc.value.message_dict) == ["1.kind", "2.occurred_at", "3.source"]
    assert not Interaction.objects.exists()


def test_notes_and_follow_ups(rep):
    person = contact_upsert(data={"email": "n@contoh.co.id"}).contact
    with pytest.raises(ValidationError):
        note_add(contact=person, author=rep, body="   ")
    note = note_add(contact=person, author=rep, body="Call back Monday", due_at=timezone.now() - timedelta(hours=1))
    assert note.kind == Note.Kind.FOLLOW_UP and note.is_overdue
    person.refresh_from_db()
    assert person.first_contacted_at is not None
    note_complete(note=note, by=rep)
    assert not Note.objects.get(pk=note.pk).is_overdue
