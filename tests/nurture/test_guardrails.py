"""The stage guardrails and consent per channel, as a table (nurture.guardrails is pure)."""

import pytest

from nurture import guardrails as g


def person(stage="lead", **kw):
    values = {"consent_email": True, "consent_whatsapp": True, "do_not_contact": False,
              "email": "a@example.co.id", "phone": "+6281234567890"}
    return g.Recipient(stage=stage, **{**values, **kw})


@pytest.mark.parametrize("stage, allowed", [
    ("contact", {"first_touch"}),
    ("lead", {"education"}),
    ("prospect", {"follow_up", "promo"}),
    ("customer", {"onboarding", "promo"}),
])
def test_each_stage_gets_only_its_purposes(stage, allowed):
    for purpose in g.PURPOSES:
        expected = None if purpose in allowed else g.STAGE
        assert g.refusal(person(stage), purpose=purpose, channel=g.EMAIL) == expected, (stage, purpose)


def test_a_promo_never_reaches_a_contact_or_a_lead_whatever_their_consent():
    for stage in ("contact", "lead"):
        assert g.refusal(person(stage), purpose=g.PROMO, channel=g.EMAIL) == g.STAGE
        assert g.refusal(person(stage), purpose=g.PROMO, channel=g.WHATSAPP) == g.STAGE


def test_consent_is_per_channel():
    no_email = person(consent_email=False)
    assert g.refusal(no_email, purpose=g.EDUCATION, channel=g.EMAIL) == g.CONSENT
    assert g.refusal(no_email, purpose=g.EDUCATION, channel=g.WHATSAPP) is None
    assert g.refusal(person(consent_whatsapp=False), purpose=g.EDUCATION, channel=g.WHATSAPP) == g.CONSENT


def test_do_not_contact_comes_first_and_an_address_is_needed():
    assert g.refusal(person(do_not_contact=True), purpose=g.PROMO, channel=g.EMAIL) == g.DO_NOT_CONTACT
    assert g.refusal(person(email=None), purpose=g.EDUCATION, channel=g.EMAIL) == g.ADDRESS
    assert g.refusal(person(phone=None), purpose=g.EDUCATION, channel=g.WHATSAPP) == g.ADDRESS
    assert g.channel_refusal(person(do_not_contact=True), g.WHATSAPP) == g.DO_NOT_CONTACT
