"""Which message may reach whom: the stage guardrails and consent per channel (UU PDP).

Pure: no Django, no database. Every send (one message, a campaign, a sequence step) asks
`refusal()` in the service layer, so no page, API call or task can route around it."""

from __future__ import annotations

from dataclasses import dataclass

FIRST_TOUCH, EDUCATION, PROMO, FOLLOW_UP, ONBOARDING = "first_touch", "education", "promo", "follow_up", "onboarding"
PURPOSES = (FIRST_TOUCH, EDUCATION, PROMO, FOLLOW_UP, ONBOARDING)
EMAIL, WHATSAPP = "email", "whatsapp"

# The purposes that fit each stage. A lead has shown interest and gets education, never a
# price promo; promos start when someone shows buying intent (README, "Nurture").
PURPOSES_BY_STAGE: dict[str, frozenset[str]] = {
    "contact": frozenset({FIRST_TOUCH}),
    "lead": frozenset({EDUCATION}),
    "prospect": frozenset({FOLLOW_UP, PROMO}),
    "customer": frozenset({ONBOARDING, PROMO}),
}
# Refusal codes, in the order they are checked (the API answers with the first).
DO_NOT_CONTACT, STAGE, CONSENT, ADDRESS = "do_not_contact", "stage", "consent", "address"
REASONS = (DO_NOT_CONTACT, STAGE, CONSENT, ADDRESS)


@dataclass(frozen=True)
class Recipient:
    """What the guardrails need to know of a contact."""

    stage: str
    consent_email: bool
    consent_whatsapp: bool
    do_not_contact: bool
    email: str | None
    phone: str | None


def purpose_fits(stage: str, purpose: str) -> bool:
    return purpose in PURPOSES_BY_STAGE.get(stage, frozenset())


def channel_refusal(recipient: Recipient, channel: str) -> str | None:
    """Whether this person may be reached on this channel at all (whatever the message)."""
    if recipient.do_not_contact:
        return DO_NOT_CONTACT
    if not (recipient.consent_email if channel == EMAIL else recipient.consent_whatsapp):
        return CONSENT
    if not (recipient.email if channel == EMAIL else recipient.phone):
        return ADDRESS
    return None


def refusal(recipient: Recipient, *, purpose: str, channel: str) -> str | None:
    """Why this message must not go to this person (a code from REASONS, in that order), or None."""
    if recipient.do_not_contact:
        return DO_NOT_CONTACT
    if not purpose_fits(recipient.stage, purpose):
        return STAGE
    return channel_refusal(recipient, channel)
