"""The duplicates list, the merge preview, the confirming POST and undo, as a marketer uses them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts import merge
from contacts.models import Contact, ContactMerge

pytestmark = pytest.mark.django_db


def test_keep_a_opens_a_preview_instead_of_merging(client_for, marketer, make_contact):
    a = make_contact(full_name="Budi Santoso", email="budi.santoso@gmail.com", city="")
    b = make_contact(full_name="Budi Santoso", email="budisantoso@gmail.com", city="Jakarta")
    client = client_for(marketer)

    listing = client.get("/contacts/duplicates/").content.decode()
    assert f"/contacts/merge/{a.pk}/{b.pk}/" in listing and f"/contacts/merge/{b.pk}/{a.pk}/" in listing
    page = client.get(f"/contacts/merge/{a.pk}/{b.pk}/")

    assert page.status_code == 200
    assert Contact.objects.filter(pk=b.pk).exists()  # nothing merged by looking
    html = page.content.decode()
    assert 'name="choice_city" value="Jakarta" checked' in html  # the default fill, changeable
    assert 'name="choice_email" value="budi.santoso@gmail.com" checked' in html
    assert 'data-testid="different-emails"' not in html  # one Gmail mailbox written two ways


def test_different_emails_are_warned_about(client_for, marketer, make_contact):
    a = make_contact(full_name="Dewi Lestari", email="dewi@maju.co.id", company="PT Maju")
    b = make_contact(full_name="Dewi Lestari", email="dewi.l@lain.co.id", company="Maju")

    html = client_for(marketer).get(f"/contacts/merge/{a.pk}/{b.pk}/").content.decode()

    assert 'data-testid="different-emails"' in html
    assert "Different email addresses: are these the same person?" in html


def test_the_preview_speaks_indonesian(client_for, marketer, make_contact):
    a, b = make_contact(email="x@maju.co.id"), make_contact(email="y@lain.co.id")
    client = client_for(marketer)
    client.cookies["django_language"] = "id"

    html = client.get(f"/contacts/merge/{a.pk}/{b.pk}/", HTTP_ACCEPT_LANGUAGE="id").content.decode()

    assert "Alamat email berbeda" in html and "Gabungkan dua kontak" in html


def test_confirm_merges_with_the_chosen_fields_and_offers_undo(client_for, marketer, make_contact):
    a = make_contact(full_name="Budi", email="budi@maju.co.id", city="Bandung")
    b = make_contact(full_name="Budi Santoso", email="budi.s@lain.co.id", city="Jakarta")
    client = client_for(marketer)

    response = client.post("/contacts/merge/", {"keep": a.pk, "merge": b.pk, "choice_full_name": "Budi Santoso",
                                                "choice_city": "Bandung", "choice_email": "budi.s@lain.co.id"}, follow=True)

    a.refresh_from_db()
    assert (a.full_name, a.city, a.email) == ("Budi Santoso", "Bandung", "budi.s@lain.co.id")
    record = ContactMerge.objects.get()
    html = response.content.decode()
    assert f'href="/contacts/merge/{record.pk}/undo/"' in html

    # Double submit: said, not merged again.
    again = client.post("/contacts/merge/", {"keep": a.pk, "merge": b.pk}, follow=True)
    assert "was already merged into Budi Santoso; nothing was merged again" in again.content.decode()
    assert ContactMerge.objects.count() == 1
    assert "already merged" in client.get(f"/contacts/merge/{a.pk}/{b.pk}/", follow=True).content.decode()

    # The kept contact's page offers the undo too; the undo page confirms; the POST undoes.
    assert 'data-testid="merge-undo"' in client.get(f"/contacts/{a.pk}/").content.decode()
    assert client.get(f"/contacts/merge/{record.pk}/undo/").status_code == 200
    undone = client.post(f"/contacts/merge/{record.pk}/undo/")
    assert undone.status_code == 302 and undone["Location"] == f"/contacts/{b.pk}/"
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.full_name, a.email, b.email) == ("Budi", "budi@maju.co.id", "budi.s@lain.co.id")
    assert 'data-testid="merge-undo"' not in client.get(f"/contacts/{a.pk}/").content.decode()


def test_a_bad_choice_is_an_error_naming_the_field(client_for, marketer, make_contact):
    a, b = make_contact(city="Bandung"), make_contact(city="Jakarta")

    response = client_for(marketer).post("/contacts/merge/", {"keep": a.pk, "merge": b.pk, "choice_city": "Surabaya"},
                                         follow=True)

    assert "City: choose the value of one of the two contacts." in response.content.decode()
    assert Contact.objects.filter(pk=b.pk).exists()


def test_undo_after_the_window_is_refused_with_a_clear_message(client_for, marketer, make_contact, settings):
    settings.CRM_MERGE_UNDO_HOURS = 24
    a, b = make_contact(), make_contact()
    record = merge.contacts_merge(kept=a, merged=b, by=marketer)
    ContactMerge.objects.filter(pk=record.pk).update(merged_at=timezone.now() - timedelta(hours=30))
    client = client_for(marketer)

    assert 'data-testid="undo-refused"' in client.get(f"/contacts/merge/{record.pk}/undo/").content.decode()
    response = client.post(f"/contacts/merge/{record.pk}/undo/", follow=True)
    assert "A merge can be undone for 24 hours; this one is older." in response.content.decode()
    assert not Contact.objects.filter(pk=b.pk).exists()


def test_a_sales_rep_sees_no_undo_link(client_for, rep, make_contact):
    a, b = make_contact(owner=rep), make_contact(owner=rep)
    merge.contacts_merge(kept=a, merged=b)
    assert 'data-testid="merge-undo"' not in client_for(rep).get(f"/contacts/{a.pk}/").content.decode()


def test_numbered_names_are_not_duplicates_but_the_same_number_is(make_contact):
    for i in range(1, 30):
        make_contact(full_name=f"Orang {i}", company="PT Banyak")
    same = [make_contact(full_name="Peserta 7", company="PT Banyak"), make_contact(full_name="Peserta 7", company="Banyak")]

    pairs = merge.duplicate_ids_ranked(queryset=Contact.objects.all())

    assert [pair for pair, _info in pairs] == [tuple(sorted(c.pk for c in same))]


def test_pairs_are_ranked_by_evidence(make_contact):
    name_exact = [make_contact(full_name="Dewi Lestari", company="PT Maju"), make_contact(full_name="Ibu Dewi Lestari", company="Maju")]
    name_similar = [make_contact(full_name="Rudi Hartono", company="PT Maju"), make_contact(full_name="Rudy Hartono", company="Maju")]
    email = [make_contact(email="sari.dewi@gmail.com"), make_contact(email="saridewi@gmail.com")]
    ref = [make_contact(external_source="a", external_ref="X-1"), make_contact(external_source="b", external_ref="x-1")]

    reasons = [(info[0], pair) for pair, info in merge.duplicate_ids_ranked(queryset=Contact.objects.all())]

    assert reasons == [("email", tuple(c.pk for c in email)), ("reference", tuple(c.pk for c in ref)),
                       ("name", tuple(c.pk for c in name_exact)), ("name", tuple(c.pk for c in name_similar))]


def test_the_duplicates_list_pages_through_every_pair_within_a_query_budget(client_for, marketer, make_contact,
                                                                           django_assert_max_num_queries):
    for i in range(60):
        make_contact(full_name=f"Kontak {i}", email=f"kontak.{i}@gmail.com")
        make_contact(full_name=f"Kontak {i}", email=f"kontak{i}@gmail.com")
    client = client_for(marketer)

    with django_assert_max_num_queries(12):
        first = client.get("/contacts/duplicates/")
    with django_assert_max_num_queries(12):
        second = client.get("/contacts/duplicates/?page=2")

    assert first.context["total"] == 60 and len(first.context["pairs"]) == 50 and len(second.context["pairs"]) == 10
    seen = {(p.first.pk, p.second.pk) for p in [*first.context["pairs"], *second.context["pairs"]]}
    assert len(seen) == 60
    assert "?page=2" in first.content.decode()


def test_merge_notes_read_in_the_viewers_language(client_for, admin, make_contact, log):
    """The merge and undo notes store a message id and parameters (what moved by model), so a merge
    made in Indonesian reads in English for an English viewer, and the other way round (issue 18)."""
    from django.utils import translation

    a, b = make_contact(full_name="Rina A"), make_contact(full_name="Rina B")
    log(b, "form_submitted")
    log(b, "page_viewed")
    with translation.override("id"):
        record = merge.contacts_merge(kept=a, merged=b, by=admin)
    client = client_for(admin)
    english = client.get(f"/contacts/{a.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Merged contact #{b.pk} (Rina B) into this one: 2 interactions" in english
    assert "digabungkan" not in english and "interaksi" not in english
    indonesian = client.get(f"/contacts/{a.pk}/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert f"Merged contact #{b.pk}" not in indonesian and "2 interaksi" in indonesian
    with translation.override("id"):
        merge.merge_undo(record=record, by=admin)
    english = client.get(f"/contacts/{a.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Undid the merge of contact #{b.pk} into this one." in english
    english = client.get(f"/contacts/{b.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"Restored from the merge into contact #{a.pk} (merge undone)." in english
