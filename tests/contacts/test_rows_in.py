"""crm.rows.rows_in reads what QuerySet.filter(<key>__in=…, **also).only(…) reads: the same rows, the
same values (datetimes, JSON and choices through the backend's and the fields' converters), the fields
left out deferred; and events_resolve, which reads through it, keeps a rep to their own contacts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

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
    mine, theirs = make_contact(owner=rep), make_contact(owner=other_rep)
    ids = [mine.pk, theirs.pk, 10**9]
    assert rows_in(Contact, "pk", []) == []
    assert {c.pk for c in rows_in(Contact, "pk", ids)} == {mine.pk, theirs.pk}
    for user in (rep, other_rep):
        scope = editable_scope(user)
        assert {c.pk for c in rows_in(Contact, "pk", ids, fields=("pk",), also=scope)} == set(
            contacts_editable_by(user).filter(pk__in=ids).values_list("pk", flat=True))


def test_events_resolve_keeps_a_rep_to_their_own_contacts(make_contact, rep, other_rep, marketer):
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
