"""A landing-page form's submission, the service behind POST /api/capture/ (contacts.api.capture):
upsert the contact by email or phone, log `form_submitted` with the form's other fields, store the
consent checkboxes with evidence, and rescore once after commit. A retry with the same external id
answers with the original."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import CaptureForm, Contact, Interaction
from contacts.services import clean_contact_data, contact_upsert, interaction_log, queue_rescore
from contacts.services.consent import consent_flags_set

CONTACT_KEYS = ("full_name", "email", "phone", "company", "job_title", "city", "industry", "source",
                "utm_source", "utm_medium", "utm_campaign")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")
CONSENT_KEYS = ("consent_email", "consent_whatsapp", "consent_sms")


@dataclass(frozen=True)
class Captured:
    contact: Contact
    created: bool
    interaction: Interaction
    replayed: bool


# Fields a visitor types that describe the person: when a fill-only merge keeps the contact's
# own value, what the visitor sent is kept with the submission (data["submitted"]).
SUBMITTED_KEYS = ("full_name", "email", "phone", "company", "job_title", "city", "industry")
def capture_key_space(*, form: CaptureForm | None, by=None) -> str:
    """The interaction source of a submission: its form's own key space, or (a token caller
    without a form key) the caller's. Never what the body says, so a visitor's external_id
    can only ever collide with an earlier submission of the same form (the interactions API
    refuses these sources: contacts.services.CAPTURE_KEY_PREFIXES)."""
    if form is not None:
        return f"form:{form.pk}"
    return f"capture:user:{by.pk}"


def capture_submit(*, form: CaptureForm | None, fields: Mapping[str, Any], extra: Mapping[str, Any], by=None) -> Captured:
    """Upsert the contact, log form_submitted with the rest of the form, store consent; one rescore.

    An anonymous (keyed) submission fills an existing contact's blank fields only, unless
    its form opts in (CaptureForm.overwrite_contact_fields); token callers, who may edit
    contacts anyway, merge as contact_upsert does. Either way an identity is never replaced."""
    fields = dict(fields)
    source = (fields.pop("source", "") or (form.source if form else "") or "capture").strip()
    key_space = capture_key_space(form=form, by=by)
    external_id = (fields.pop("external_id", "") or "").strip() or None
    if external_id and (found := Interaction.objects.select_related("contact").filter(
            source=key_space, external_id=external_id).first()):
        return Captured(found.contact, created=False, interaction=found, replayed=True)
    name = fields.pop("name", "")
    consents = {key: True for key in CONSENT_KEYS if fields.pop(key, False)}
    data = {key: value for key, value in fields.items() if key in CONTACT_KEYS and value not in (None, "")}
    data.setdefault("full_name", name)
    data["source"] = source
    if form and form.industry:
        data.setdefault("industry", form.industry)
    fill_only = by is None and not (form and form.overwrite_contact_fields)
    with transaction.atomic():
        # consent: below, with the form's evidence
        result = contact_upsert(data=data, by=by, rescore=False, fill_only=fill_only)
        # Evidence for every ticked box, even one the contact had already (UU PDP).
        consent_flags_set(contact=result.contact, flags=consents, source=form.name if form else "api",
                          wording_version=form.consent_wording_version if form else "", by=by, record_unchanged=True)
        details = {**({"form": form.name} if form else {}), **{k: data[k] for k in UTM_KEYS if k in data}, **extra}
        if kept := _not_applied(result.contact, data):
            details["submitted"] = kept
        logged = interaction_log(
            contact=result.contact, kind="form_submitted", occurred_at=timezone.now(), channel="web", data=details,
            source=key_space, external_id=external_id, by=by, rescore=False,
        )
        if logged.created:
            queue_rescore([result.contact.pk])
        else:
            # A concurrent retry of this very submission committed first: undo our copy of
            # its contact and consent writes and answer with the original.
            transaction.set_rollback(True)
    if not logged.created:
        original = Interaction.objects.select_related("contact").get(pk=logged.interaction.pk)
        return Captured(original.contact, created=False, interaction=original, replayed=True)
    return Captured(result.contact, result.created, logged.interaction, replayed=False)


def _not_applied(contact: Contact, data: Mapping[str, Any]) -> dict[str, Any]:
    """The submitted person fields the contact does not hold (kept, not applied), as sent."""
    submitted = {key: data[key] for key in SUBMITTED_KEYS if data.get(key) not in (None, "")}
    if not submitted:
        return {}
    try:
        cleaned = clean_contact_data(submitted)
    except ValidationError:
        return submitted
    return {key: submitted[key] for key, value in cleaned.items() if getattr(contact, key) != value}
