"""contacts.segments: create, update and delete through the services, validation that names
the field, audit rows, and the query-string conversion behind "Save this view"."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from contacts.models import Segment
from contacts.segments import filters_clean, filters_from_query, segment_create, segment_delete, segment_update
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


def errors_of(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        call()
    return info.value.message_dict


def test_create_stores_the_filters_and_audits_names_not_values(marketer):
    segment = segment_create(name="  Education   leads ", filters={"stage": "lead", "industry": "education",
                                                                 "search": "Budi Santoso", "attributes.plan": "gold"},
                             by=marketer)
    segment.refresh_from_db()
    assert segment.name == "Education leads"
    assert segment.filters == {"stage": "lead", "industry": "education", "search": "Budi Santoso", "attributes.plan": "gold"}
    assert segment.created_by == marketer
    event = AuditEvent.objects.get(action="create", object_type="contacts.segment", object_id=str(segment.pk))
    assert event.actor == marketer
    assert event.details["filters"] == ["attributes.plan", "industry", "search", "stage"]
    assert "Budi" not in str(event.details)


def test_blank_filter_values_are_dropped(marketer):
    segment = segment_create(name="Leads", filters={"stage": "lead", "industry": "", "tag": "  ", "source": None},
                             by=marketer)
    assert segment.filters == {"stage": "lead"}


@pytest.mark.parametrize(("filters", "field"), [
    ({"stage": "vip"}, "filters.stage"),
    ({"industry": "mining"}, "filters.industry"),
    ({"score_gte": "ten"}, "filters.score_gte"),
    ({"active_within": -1}, "filters.active_within"),
    ({"owner": "somebody"}, "filters.owner"),
    ({"consent": "fax"}, "filters.consent"),
    ({"last_interaction_before": "yesterday"}, "filters.last_interaction_before"),
    ({"colour": "red"}, "filters.colour"),
    ({"ordering": "-score"}, "filters.ordering"),
    ({"segment": "3"}, "filters.segment"),
    ({"stage": ["lead", "prospect"]}, "filters.stage"),
    ({"attributes.employees__gte": "many"}, "filters.attributes.employees__gte"),
    ({"attributes.plan__is_set": "maybe"}, "filters.attributes.plan__is_set"),
    ({"attributes.$.x[0]": "a"}, "filters.attributes.$.x[0]"),
    ({"attributes.plan": {"op": "eq"}}, "filters.attributes.plan"),
])
def test_bad_filters_are_refused_naming_the_field(marketer, filters, field):
    errors = errors_of(lambda: segment_create(name="Bad", filters=filters, by=marketer))
    assert field in errors, errors
    assert not Segment.objects.exists()


def test_filters_must_be_an_object_and_the_name_is_required(marketer):
    errors = errors_of(lambda: segment_create(name=" ", filters=["stage"], by=marketer))
    assert set(errors) == {"name", "filters"}


def test_names_are_unique_ignoring_case(marketer, admin):
    segment_create(name="Gold members", filters={}, by=marketer)
    assert "name" in errors_of(lambda: segment_create(name="gold MEMBERS", filters={}, by=admin))
    other = segment_create(name="Silver", filters={}, by=admin)
    assert "name" in errors_of(lambda: segment_update(segment=other, name="GOLD members", by=admin))


def test_update_renames_replaces_filters_and_audits_what_changed(marketer, admin):
    segment = segment_create(name="Leads", filters={"stage": "lead", "tag": "webinar"}, by=marketer)
    segment_update(segment=segment, filters={"stage": "prospect"}, by=admin)
    segment.refresh_from_db()
    assert segment.filters == {"stage": "prospect"}  # replaced, not merged
    assert segment.name == "Leads"
    segment_update(segment=segment, name="Hot prospects", by=admin)
    segment.refresh_from_db()
    assert segment.name == "Hot prospects"
    changes = AuditEvent.objects.filter(action="change", object_type="contacts.segment").order_by("id")
    assert [e.details["fields"] for e in changes] == [["filters"], ["name"]]
    segment_update(segment=segment, name="Hot prospects", filters={"stage": "prospect"}, by=admin)
    assert AuditEvent.objects.filter(action="change", object_type="contacts.segment").count() == 2  # nothing changed


def test_a_refused_update_changes_nothing(marketer):
    segment = segment_create(name="Leads", filters={"stage": "lead"}, by=marketer)
    errors = errors_of(lambda: segment_update(segment=segment, name="New name", filters={"stage": "x"}, by=marketer))
    assert "filters.stage" in errors
    segment.refresh_from_db()
    assert (segment.name, segment.filters) == ("Leads", {"stage": "lead"})


def test_delete_removes_the_segment_and_audits(marketer, make_contact):
    contact = make_contact()
    segment = segment_create(name="All", filters={}, by=marketer)
    pk = segment.pk
    segment_delete(segment=segment, by=marketer)
    assert not Segment.objects.filter(pk=pk).exists()
    assert AuditEvent.objects.filter(action="delete", object_type="contacts.segment", object_id=str(pk)).exists()
    contact.refresh_from_db()  # the contacts are untouched


def test_services_are_keyword_only(marketer):
    with pytest.raises(TypeError):
        segment_create("Leads", {}, marketer)  # type: ignore[misc]


def test_filters_from_query_keeps_filters_renames_the_score_range_and_drops_paging():
    params = QueryDict("stage=lead&score_min=10&score_max=50&ordering=-score&page=3&industry=&attributes.plan=gold"
                       "&segment=4")
    assert filters_from_query(params) == {"stage": "lead", "score_gte": "10", "score_lte": "50", "attributes.plan": "gold"}
    assert filters_from_query(QueryDict("tag=vip"), base={"stage": "lead", "tag": "x"}) == {"stage": "lead", "tag": "vip"}
    assert filters_clean(filters_from_query(params))  # what the list accepts, a segment accepts
