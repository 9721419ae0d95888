"""Every kind of segment filter, evaluated through segment_contacts on the database in use
(SQLite by default; PostgreSQL with DATABASE_URL): stage, industry, source, owner, tag,
score range, consent, last activity and imported attributes with each operator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact, Segment
from contacts.selectors import segment_contacts
from tests.segments.conftest import NOW

pytestmark = pytest.mark.django_db


def names(filters: dict, user) -> list[str]:
    segment = Segment(name="probe", filters=filters)
    return sorted(segment_contacts(segment, user).values_list("full_name", flat=True))


CASES = [
    ({}, ["ani", "budi", "citra", "dewi", "eko"]),
    ({"stage": "lead"}, ["ani", "budi"]),
    ({"industry": "b2b"}, ["citra", "dewi"]),
    ({"source": "instagram"}, ["ani", "budi"]),
    ({"owner": "none"}, ["citra", "eko"]),
    ({"tag": "VIP"}, ["ani"]),
    ({"tag": "webinar"}, ["ani", "budi"]),
    ({"score_gte": 30}, ["ani", "citra", "dewi"]),
    ({"score_lte": 10}, ["budi", "eko"]),
    ({"score_gte": "10", "score_lte": "70"}, ["ani", "budi", "citra"]),
    ({"score_min": 70}, ["citra", "dewi"]),
    ({"consent": "email"}, ["ani"]),  # citra opted in but is do-not-contact
    ({"consent": "do_not_contact"}, ["citra"]),
    ({"consent": "none"}, ["eko"]),
    ({"consent_email": True}, ["ani", "citra"]),
    ({"consent_whatsapp": "true", "do_not_contact": "false"}, ["budi"]),
    ({"consent_sms": True}, ["dewi"]),
    ({"active_within": 7}, ["ani"]),
    ({"active_within": "30"}, ["ani", "dewi"]),
    ({"inactive_for": 30}, ["budi", "citra", "eko"]),
    ({"last_interaction_before": (NOW - timedelta(days=5)).isoformat()}, ["budi", "dewi"]),
    ({"stage": "lead", "industry": "education", "tag": "webinar", "score_gte": 20}, ["ani"]),
    # Imported attributes.
    ({"attributes.plan": "gold"}, ["ani", "citra"]),
    ({"attributes.plan__eq": "SILVER"}, ["budi"]),
    ({"attributes.plan__ne": "gold"}, ["budi", "dewi", "eko"]),  # dewi has no plan at all
    ({"attributes.plan": "7"}, ["eko"]),  # a JSON number equals its digits
    ({"attributes.employees": 45}, ["budi"]),  # a numeric string equals the number
    ({"attributes.employees__eq": "120.0"}, ["ani"]),
    ({"attributes.employees__gte": 50}, ["ani"]),  # "many" is not a number: never compared
    ({"attributes.employees__gte": "7.5"}, ["ani", "budi", "eko"]),  # numbers, not text ("45" < "7.5" as text)
    ({"attributes.employees__lte": 45}, ["budi", "eko"]),
    ({"attributes.budget__gte": 1000000}, ["ani"]),  # a padded numeric string
    ({"attributes.budget__lte": "1000000"}, ["budi"]),
    ({"attributes.joined__gte": "2024-01-01"}, ["ani"]),
    ({"attributes.joined__lte": "2024-01-01"}, ["budi"]),  # "not a date" never compares
    ({"attributes.note__contains": "GOLD"}, ["eko"]),
    ({"attributes.note__contains": "brochure"}, ["ani"]),
    ({"attributes.note__is_set": "true"}, ["ani", "eko"]),  # "" and "   " are blank
    ({"attributes.note__is_blank": True}, ["budi", "citra", "dewi"]),
    ({"attributes.note__is_set": "false"}, ["budi", "citra", "dewi"]),
    ({"attributes.budget__is_set": True}, ["ani", "budi"]),  # null is not set
    ({"attributes.member": "true"}, ["ani"]),
    ({"attributes.member": "false"}, ["budi"]),
    ({"attributes.member__is_set": True}, ["ani", "budi"]),  # false is a value
    ({"attributes.plan": "gold", "stage": "prospect"}, ["citra"]),
]


# Ids must be the same in every pytest-xdist process's collection: the moment is named, not printed.
@pytest.mark.parametrize(("filters", "expected"), CASES,
                         ids=[str(f).replace((NOW - timedelta(days=5)).isoformat(), "now-5d") for f, _e in CASES])
def test_each_filter_kind(crowd, filters, expected):
    assert names(filters, crowd) == expected


def test_the_segment_list_filter_and_the_query_string_agree(crowd, rf):
    """The list page's own parameters (a QueryDict of strings) select what the segment does."""
    from django.http import QueryDict

    from contacts.selectors import contact_list

    params = QueryDict("stage=lead&attributes.employees__gte=40&attributes.plan__ne=gold")
    request = rf.get("/contacts/")
    request.user = crowd
    qs, filterset = contact_list(crowd, params, request=request)
    assert filterset.is_valid()
    assert sorted(qs.values_list("full_name", flat=True)) == ["budi"]


def test_owner_me_means_whoever_uses_the_segment(crowd, rep, other_rep):
    assert names({"owner": "me"}, rep) == ["ani", "dewi"]
    assert names({"owner": "me"}, other_rep) == ["budi"]


def test_sales_reps_only_get_their_own_contacts(crowd, rep, other_rep, marketer, settings):
    settings.CRM_SALES_CAN_READ_ALL = False
    assert names({"stage": "lead"}, marketer) == ["ani", "budi"]
    assert names({"stage": "lead"}, rep) == ["ani"]
    assert names({"stage": "lead"}, other_rep) == ["budi"]
    assert names({"attributes.plan": "gold"}, rep) == ["ani"]


def test_a_segment_is_evaluated_when_used_not_frozen(crowd):
    segment = Segment.objects.create(name="Gold", filters={"attributes.plan": "gold"})
    assert sorted(segment_contacts(segment, crowd).values_list("full_name", flat=True)) == ["ani", "citra"]
    Contact.objects.filter(full_name="dewi").update(attributes={"plan": "gold"})
    assert sorted(segment_contacts(segment, crowd).values_list("full_name", flat=True)) == ["ani", "citra", "dewi"]


def test_a_segment_whose_stored_filters_no_longer_validate_matches_nobody(crowd):
    broken = Segment.objects.create(name="Broken", filters={"stage": "vip", "industry": "b2b"})
    assert list(segment_contacts(broken, crowd)) == []


def test_segment_contacts_is_one_query_and_uses_no_per_row_queries(crowd, django_assert_num_queries):
    segment = Segment.objects.create(name="Mixed", filters={
        "stage": "lead", "tag": "webinar", "attributes.employees__gte": 1, "attributes.note__is_set": True,
        "attributes.plan__ne": "x", "active_within": 30})
    qs = segment_contacts(segment, crowd)
    with django_assert_num_queries(1):
        assert [c.full_name for c in qs] == ["ani"]


def test_attribute_keys_are_bound_not_spliced_into_sql(crowd):
    """A key with SQL or JSON-path syntax is refused by validation, and the SQL never contains it."""
    from contacts.segments import filters_clean

    with pytest.raises(ValidationError) as info:
        filters_clean({"attributes.x') OR 1=1 --": "a"})
    assert "filters.attributes.x') OR 1=1 --" in info.value.message_dict
    odd = "plan.v2 / tier"  # allowed characters, including a dot and a slash
    Contact.objects.filter(full_name="eko").update(attributes={odd: "A"})
    assert names({f"attributes.{odd}": "a"}, crowd) == ["eko"]
    assert names({"attributes.plan": "a"}, crowd) == []  # "plan.v2 / tier" is one key, not a path
