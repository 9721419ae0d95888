"""Probable duplicates and the merge that keeps everything."""

from __future__ import annotations

import pytest
from django.utils import timezone

from contacts import merge
from contacts.models import ConsentRecord, Contact, ContactMerge, Interaction, Note, StageChange
from contacts.services import contact_set_stage, note_add
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


def _pairs(**kwargs) -> set[tuple[frozenset[int], str]]:
    return {(frozenset((p.first.pk, p.second.pk)), p.reason) for p in merge.duplicates_find(queryset=Contact.objects.all(), **kwargs)}


def test_finds_email_variants_references_and_similar_names_at_one_company(make_contact):
    gmail_a = make_contact(email="budi.santoso@gmail.com")
    gmail_b = make_contact(email="budisantoso+promo@googlemail.com")
    ref_a = make_contact(email="r1@contoh.co.id", external_source="crm-lama", external_ref="CUST-77")
    ref_b = make_contact(email="r2@contoh.co.id", external_source="toko-online", external_ref="cust-77")
    name_a = make_contact(full_name="Dewi Lestari", company="PT Maju Jaya Tbk")
    name_b = make_contact(full_name="Ibu Dewi Lestari, S.Kom", company="Maju Jaya")
    name_c = make_contact(full_name="Dewi Lestary", company="PT. Maju Jaya")
    make_contact(full_name="Dewi Lestari", company="CV Lain")  # same name, other company: not a duplicate
    make_contact(full_name="Dedi Kurniawan", company="PT Maju Jaya Tbk")  # same company, other person
    # Row-number references of two anonymous files are not the same person.
    make_contact(email="s1@contoh.co.id", external_source="survei-a", external_ref="row:2")
    make_contact(email="s2@contoh.co.id", external_source="survei-b", external_ref="row:2")

    found = _pairs()

    assert (frozenset((gmail_a.pk, gmail_b.pk)), "email") in found
    assert (frozenset((ref_a.pk, ref_b.pk)), "reference") in found
    assert (frozenset((name_a.pk, name_b.pk)), "name") in found
    assert (frozenset((name_a.pk, name_c.pk)), "name") in found
    involved = {pk for pair, _reason in found for pk in pair}
    assert involved == {gmail_a.pk, gmail_b.pk, ref_a.pk, ref_b.pk, name_a.pk, name_b.pk, name_c.pk}


def test_merge_keeps_every_interaction_note_stage_change_and_consent(make_contact, log, marketer, playbooks,
                                                                    django_capture_on_commit_callbacks):
    kept = make_contact(full_name="Budi Santoso", email="budi@contoh.co.id", company="", consent_email=True, tags=["vip"])
    other = make_contact(full_name="Budi S.", email="budi.s@gmail.com", phone="0812-3456-7890", company="PT Maju",
                         city="Jakarta", consent_whatsapp=True, tags=["expo"], attributes={"ukuran": "L"})
    log(kept, "page_viewed")
    log(other, "price_requested")
    log(other, "demo_requested")
    note_add(contact=other, author=marketer, body="Minta ditelepon sore")
    contact_set_stage(contact=other, stage="prospect", by=marketer)
    ConsentRecord.objects.create(contact=other, channel="whatsapp", granted=True, source="expo")
    before = {
        "interactions": set(Interaction.objects.values_list("pk", flat=True)),
        "stage_changes": set(StageChange.objects.values_list("pk", flat=True)),
        "consents": set(ConsentRecord.objects.values_list("pk", flat=True)),
        "notes": set(Note.objects.values_list("pk", flat=True)),
    }
    other_id = other.pk

    with django_capture_on_commit_callbacks(execute=True):  # the rescore is queued after commit
        record = merge.contacts_merge(kept=kept, merged=other, by=marketer)

    kept.refresh_from_db()
    assert not Contact.objects.filter(pk=other_id).exists()
    assert set(kept.interactions.values_list("pk", flat=True)) == before["interactions"]
    assert before["stage_changes"] <= set(kept.stage_changes.values_list("pk", flat=True))  # + any move the rescore made
    assert before["consents"] <= set(kept.consent_records.values_list("pk", flat=True))  # + evidence of what carried over
    assert before["notes"] <= set(kept.notes.values_list("pk", flat=True))
    assert kept.notes.filter(body="Minta ditelepon sore").exists()
    # Blanks filled from the other; the kept contact's own values win.
    assert (kept.full_name, kept.email, kept.phone, kept.company, kept.city) == (
        "Budi Santoso", "budi@contoh.co.id", "+6281234567890", "PT Maju", "Jakarta")
    assert kept.consent_email and kept.consent_whatsapp
    assert kept.attributes == {"ukuran": "L"}
    assert set(kept.tags.values_list("name", flat=True)) == {"vip", "expo"}
    # Recorded: the merge with a snapshot, a system note, an audit event without personal data.
    assert (record.kept, record.merged_contact_id, record.merged_by) == (kept, other_id, marketer)
    assert record.merged_snapshot["email"] == "budi.s@gmail.com" and record.merged_snapshot["tags"] == ["expo"]
    assert kept.notes.filter(kind=Note.Kind.SYSTEM, body__contains=f"#{other_id}").exists()
    event = AuditEvent.objects.get(action="merge")
    assert event.details["merged_id"] == other_id and event.details["moved"]["interaction"] == 2
    assert "budi" not in str(event.details).lower()
    # Rescored with the merged interactions: a price request now counts for the kept contact.
    assert kept.score > 0 and not kept.needs_rescore
    assert any(hit["interactions"] for hit in kept.score_breakdown["hits"])


def test_merge_is_restrictive_about_contact_permission(make_contact):
    kept = make_contact(email="a@contoh.co.id", consent_email=True)
    ConsentRecord.objects.create(contact=kept, channel="sms", granted=False, recorded_at=timezone.now())
    other = make_contact(email="b@contoh.co.id", consent_sms=True, do_not_contact=True)

    merge.contacts_merge(kept=kept, merged=other)

    kept.refresh_from_db()
    assert kept.do_not_contact  # one record said "do not contact": the person said so
    assert not kept.consent_sms  # the kept contact withdrew SMS consent explicitly


def test_earlier_merges_follow_the_kept_contact(make_contact):
    a, b, c = make_contact(), make_contact(), make_contact()
    merge.contacts_merge(kept=b, merged=c)
    merge.contacts_merge(kept=a, merged=b)

    assert ContactMerge.objects.filter(kept=a).count() == 2


def test_a_contact_cannot_be_merged_with_itself(make_contact):
    a = make_contact()
    with pytest.raises(merge.ValidationError):
        merge.contacts_merge(kept=a, merged=a)


def test_duplicates_page_and_merge_action(client_for, marketer, make_contact, django_assert_max_num_queries):
    for i in range(5):
        make_contact(full_name=f"Orang {i}", email=f"orang.{i}@gmail.com")
        make_contact(full_name=f"Orang {i}", email=f"orang{i}@gmail.com")
    client = client_for(marketer)

    with django_assert_max_num_queries(12):
        page = client.get("/contacts/duplicates/")
    assert page.status_code == 200
    assert len(page.context["pairs"]) == 5
    pair = page.context["pairs"][0]

    response = client.post("/contacts/merge/", {"keep": pair.first.pk, "merge": pair.second.pk})
    assert response.status_code == 302
    assert not Contact.objects.filter(pk=pair.second.pk).exists()
    assert len(client.get("/contacts/duplicates/").context["pairs"]) == 4

    again = client.post("/contacts/merge/", {"keep": pair.first.pk, "merge": pair.second.pk}, follow=True)
    # A second merge of the pair (double submit) says what happened instead of an error, and merges nothing.
    assert "was already merged into" in again.content.decode() and "nothing was merged again" in again.content.decode()
    assert ContactMerge.objects.count() == 1


def test_reps_cannot_see_duplicates_or_merge(client_for, rep, make_contact):
    a, b = make_contact(owner=rep), make_contact(owner=rep)
    client = client_for(rep)
    assert client.get("/contacts/duplicates/").status_code == 403
    assert client.post("/contacts/merge/", {"keep": a.pk, "merge": b.pk}).status_code == 403
    assert Contact.objects.filter(pk=b.pk).exists()
