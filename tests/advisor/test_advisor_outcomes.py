"""Who converted and when, and the moment each contact is judged at (no leakage)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact, Interaction
from scoring import engine
from scoring.models import RuleSet
from scoring.outcomes import (
    EPSILON,
    observations_load,
    outcome_kinds,
    outcome_queryset,
    period_parse,
)
from scoring.selectors import version_to_engine

from .conftest import CONVERTED_AT, CREATED_AT, PERIOD_END

pytestmark = pytest.mark.django_db


def _contact(ref: str, *touches: tuple[str, object], **fields) -> Contact:
    fields = {"industry": "ecommerce", "created_at": CREATED_AT, **fields}
    contact = Contact.objects.create(external_source="t", external_ref=ref, **fields)
    for kind, at in touches:
        Interaction.objects.create(contact=contact, kind_id=kind, occurred_at=at)
    return contact


def _judged(version, **period) -> dict[str, object]:
    period = period_parse(period.get("start"), period.get("end", PERIOD_END))
    found = observations_load(outcome_queryset(version, period), kinds=outcome_kinds("purchase"), period=period)
    refs = dict(Contact.objects.values_list("pk", "external_ref"))
    return {refs[o.contact_id]: o for o in found}


def test_outcome_names_a_kind_or_any_conversion(playbooks):
    assert outcome_kinds("purchase") == {"purchase"}
    assert outcome_kinds("conversion") == {"purchase", "contract_signed", "appointment_booked",
                                           "screening_result_downloaded", "enrolled"}
    with pytest.raises(ValidationError) as error:
        outcome_kinds("bought_a_boat")
    assert "outcome" in error.value.message_dict


def test_converters_are_judged_just_before_their_first_conversion(playbooks):
    later = CONVERTED_AT + timedelta(days=10)
    _contact("buyer", ("price_requested", CONVERTED_AT - timedelta(days=2)), ("purchase", CONVERTED_AT),
             ("purchase", later), ("cart_added", CONVERTED_AT))
    _contact("browser", ("page_viewed", PERIOD_END - timedelta(days=1)))
    judged = _judged(RuleSet.objects.get(industry="ecommerce").active_version)
    buyer, browser = judged["buyer"], judged["browser"]
    assert buyer.converted and buyer.converted_at == CONVERTED_AT and buyer.as_of == CONVERTED_AT - EPSILON
    assert not browser.converted and browser.as_of == PERIOD_END and browser.converted_at is None


def test_what_happens_at_or_after_the_conversion_never_counts(playbooks):
    """The ecommerce playbook gives points for purchases and carts; judged as of just
    before buying, neither the purchase nor a cart logged at the same instant counts."""
    _contact("buyer", ("purchase", CONVERTED_AT), ("cart_added", CONVERTED_AT),
             ("checkout_started", CONVERTED_AT + timedelta(hours=1)))
    version = RuleSet.objects.get(industry="ecommerce").active_version
    buyer = _judged(version)["buyer"]
    result = engine.evaluate(version_to_engine(version), buyer.facts, buyer.as_of)
    assert result.hits == () and result.score == 0 and result.stage == "contact"


def test_judging_starts_from_a_clean_slate(playbooks):
    _contact("pinned", stage="prospect", stage_pinned=True)
    observation = _judged(RuleSet.objects.get(industry="ecommerce").active_version)["pinned"]
    assert observation.facts.stage == "contact" and not observation.facts.pinned


def test_period_decides_who_is_judged_and_how(playbooks):
    _contact("before", ("purchase", CONVERTED_AT - timedelta(days=40)))
    _contact("inside", ("purchase", CONVERTED_AT))
    _contact("after", ("purchase", PERIOD_END + timedelta(days=5)))
    _contact("too-new", created_at=PERIOD_END + timedelta(days=1))
    _contact("objects", objects_to_profiling=True)
    _contact("elsewhere", industry="b2b")
    judged = _judged(RuleSet.objects.get(industry="ecommerce").active_version, start=CONVERTED_AT - timedelta(days=1))
    # Converted before the period: already a customer. Created after it, objecting to
    # profiling, or scored by another rule set: not judged either.
    assert set(judged) == {"inside", "after"}
    assert judged["inside"].converted
    # Converting after the period's end is the future as seen from the end.
    assert not judged["after"].converted and judged["after"].as_of == PERIOD_END


def test_period_accepts_dates_and_covers_whole_days(settings):
    period = period_parse("2025-01-01", "2025-01-31")
    assert period.start.isoformat().startswith("2025-01-01T00:00:00")
    assert period.end.date().isoformat() == "2025-01-31" and period.end.hour == 23
    with pytest.raises(ValidationError):
        period_parse("2025-02-01", "2025-01-01")
    with pytest.raises(ValidationError):
        period_parse("yesterday")
