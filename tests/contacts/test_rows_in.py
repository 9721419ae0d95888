"""crm.rows.rows_in reads what QuerySet.filter(<key>__in=…, **also).only(…) reads: the same rows, the
same values (datetimes, JSON and choices through the backend's and the fields' converters), the fields
left out deferred; and events_resolve, which reads through it, keeps a rep to their own contacts."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldDoesNotExist, ValidationError

from contacts.api.checks import events_resolve
from contacts.models import Contact, InteractionKind
from contacts.selectors import contacts_editable_by, editable_scope
from crm.rows import rows_in

pytestmark = pytest.mark.django_db


def _values(row) -> dict:
    return {f.attname: getattr(row, f.attname) for f in type(row)._meta.concrete_fields}


def test_every_field_read_as_the_orm_reads_it(make_contact, marketer):
    contact = make_contact(company="PT Maju", attributes={"plan": "pro", "seats": 12})
    Contact.objects.filter(pk=contact.pk).update(owner=marketer)
    (ours,) = rows_in(Contact, "pk", [contact.pk])
    assert _values(ours) == _values(Contact.objects.get(pk=contact.pk))
    assert ours.created_at.tzinfo is not None and ours.attributes == {"plan": "pro", "seats": 12}
    kinds = {kind.slug: kind for kind in rows_in(InteractionKind, "slug", ["price_requested", "page_viewed", "nope"])}
    assert set(kinds) == {"price_requested", "page_viewed"}
    assert _values(kinds["price_requested"]) == _values(InteractionKind.objects.get(slug="price_requested"))


def test_only_the_named_fields_are_loaded_the_rest_deferred(make_contact):
    contact = make_contact(full_name="Sari Dewi")
    (ours,) = rows_in(Contact, "email", [contact.email, contact.email], fields=("email",))
    assert ours.get_deferred_fields() == Contact.objects.only("email").get(pk=contact.pk).get_deferred_fields()
    assert (ours.pk, ours.email) == (contact.pk, contact.email)
    assert ours.full_name == "Sari Dewi"  # a deferred field still loads on access, as with only()


def test_conditions_and_empty_input(make_contact, rep, other_rep):
    mine, theirs, nobodys = make_contact(owner=rep), make_contact(owner=other_rep), make_contact()
    ids = [mine.pk, theirs.pk, nobodys.pk, 10**9]
    assert rows_in(Contact, "pk", []) == []
    assert {c.pk for c in rows_in(Contact, "pk", ids)} == {mine.pk, theirs.pk, nobodys.pk}
    assert [c.pk for c in rows_in(Contact, "pk", ids, also={"owner": rep.pk})] == [mine.pk]
    assert [c.pk for c in rows_in(Contact, "pk", ids, also={"owner": None})] == [nobodys.pk]  # IS NULL, as filter()
    with pytest.raises(FieldDoesNotExist):
        rows_in(Contact, "pk", ids, fields=("no_such_field",))


def test_every_count_of_values_finds_exactly_its_rows(make_contact):
    """IN lists come in 1, 2, 4, 8 … slots, the last value repeated: no count finds too much or too little."""
    contacts = [make_contact() for _ in range(9)]
    for n in range(1, 10):
        wanted = [c.pk for c in contacts[:n]]
        assert sorted(c.pk for c in rows_in(Contact, "pk", [*wanted, wanted[0]], fields=("pk",))) == wanted


def test_who_may_change_what(make_contact, make_user, rep, other_rep, marketer):
    mine, theirs = make_contact(owner=rep), make_contact(owner=other_rep)
    assert editable_scope(marketer) == {} and editable_scope(rep) == {"owner": rep.pk}
    assert editable_scope(make_user("tamu")) is None  # no role: nothing
    assert set(contacts_editable_by(rep).values_list("pk", flat=True)) == {mine.pk}
    assert set(contacts_editable_by(marketer).values_list("pk", flat=True)) >= {mine.pk, theirs.pk}
    assert not contacts_editable_by(make_user("tamu2")).exists()


def test_events_resolve_keeps_a_rep_to_their_own_contacts(make_contact, make_user, rep, other_rep, marketer):
    mine = make_contact(owner=rep, phone="0812-1111-2222")
    theirs = make_contact(owner=other_rep)
    items = [(0, {"contact": mine.pk, "kind": "page_viewed"}), (1, {"contact_email": mine.email.upper(), "kind": "page_viewed"}),
             (2, {"contact_phone": "+62 812 1111 2222", "kind": "price_requested"})]
    events = events_resolve(items, user=rep, batch=True)
    assert [e.contact.pk for e in events] == [mine.pk] * 3
    assert [e.kind.slug for e in events] == ["page_viewed", "page_viewed", "price_requested"]
    with pytest.raises(ValidationError) as refused:
        events_resolve([(0, {"contact": theirs.pk, "kind": "page_viewed"}), (1, {"contact": mine.pk, "kind": "no_such_kind"})],
                       user=rep, batch=True)
    assert set(refused.value.message_dict) == {"0.contact", "1.kind"}
    assert [e.contact.pk for e in events_resolve([(0, {"contact": theirs.pk, "kind": "page_viewed"})], user=marketer, batch=False)] == [theirs.pk]
    with pytest.raises(ValidationError) as refused:
        events_resolve([(0, {"contact": mine.pk, "kind": "page_viewed"})], user=make_user("tamu"), batch=False)  # no role
    assert set(refused.value.message_dict) == {"contact"}
