"""Consent (UU PDP): the one place that changes a contact's consent flags.

Every change of `consent_email`, `consent_whatsapp`, `consent_sms`, `do_not_contact` or
`objects_to_profiling` goes through here, whatever asked for it (the privacy page, the
edit page, the API, capture, an import, a merge, erasure), and leaves evidence: a
ConsentRecord saying who (`recorded_by`), when (`recorded_at`), how (`source`: page, api,
import, merge, erasure, a capture form's name...) and under which wording
(`wording_version`) or import job (`import_job`). The other services refuse to write these
fields themselves and hand them here; the Django admin shows them read-only.

The objection to profiling (art. 10) is lifted only by an admin (the privacy page's flow).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contacts.models import ConsentRecord, Contact, ImportJob, Note
from contacts.services.notes import note_add
from contacts.services.rescore import queue_rescore
from crm import roles
from crm.audit import audit
from crm.models import AuditEvent

Channel = ConsentRecord.Channel
# The contact flag behind each consent channel, and the flag's value when consent is *granted*.
CHANNEL_FLAGS: dict[str, tuple[str, bool]] = {
    Channel.EMAIL: ("consent_email", True),
    Channel.WHATSAPP: ("consent_whatsapp", True),
    Channel.SMS: ("consent_sms", True),
    Channel.ALL: ("do_not_contact", False),
    Channel.PROFILING: ("objects_to_profiling", False),
}
FLAG_CHANNELS: dict[str, str] = {flag: channel for channel, (flag, _granted) in CHANNEL_FLAGS.items()}
CONSENT_FLAGS = tuple(FLAG_CHANNELS)
MESSAGING_CHANNELS = (Channel.EMAIL, Channel.WHATSAPP, Channel.SMS)
ANONYMISED_KEY = "anonymised_at"  # in Contact.attributes: marks an anonymised contact
# Opt-ins first, then do-not-contact (which clears them), then profiling.
_ORDER = (Channel.EMAIL, Channel.WHATSAPP, Channel.SMS, Channel.ALL, Channel.PROFILING)


def is_anonymised(contact: Contact) -> bool:
    return ANONYMISED_KEY in (contact.attributes or {})


def _values(channel: str, granted: bool) -> dict[str, bool]:
    flag, value_when_granted = CHANNEL_FLAGS[channel]
    values = {flag: value_when_granted if granted else not value_when_granted}
    if channel == Channel.ALL and not granted:
        values.update({CHANNEL_FLAGS[c][0]: False for c in MESSAGING_CHANNELS})
    return values


def _person(by):
    return by if getattr(by, "is_authenticated", False) else None


def _check_profiling_lift(channel: str, granted: bool, by) -> None:
    if channel == Channel.PROFILING and granted and not (_person(by) and roles.is_admin(by)):
        raise ValidationError({"objects_to_profiling": _(
            "Only an admin can lift the objection to profiling, on the contact's privacy page.")})


@transaction.atomic
def consent_set(*, contact: Contact, channel: str, granted: bool, source: str = "", wording_version: str = "",
                by=None, import_job: ImportJob | None = None, allow_anonymised: bool = False) -> ConsentRecord:
    """Record consent given or withdrawn for one channel and set the contact's flag at once
    (exports and lists read the flag, so a withdrawal takes effect immediately).

    Channels: email, whatsapp, sms; `all` (withdrawing it means do-not-contact and clears
    every opt-in); `profiling` (withdrawing it is the objection to automated profiling;
    only an admin may grant it again, i.e. lift the objection)."""
    if channel not in CHANNEL_FLAGS:
        raise ValidationError({"channel": _("Unknown consent channel “%(channel)s”.") % {"channel": channel}})
    _check_profiling_lift(channel, granted, by)
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if is_anonymised(contact) and not allow_anonymised:
        raise ValidationError({"channel": _("This contact has been anonymised.")})
    values = _values(channel, granted)
    changed = sorted(name for name, value in values.items() if getattr(contact, name) != value)
    if changed:
        Contact.objects.filter(pk=contact.pk).update(**{name: values[name] for name in changed}, updated_at=timezone.now())
        queue_rescore([contact.pk])
    record = ConsentRecord.objects.create(
        contact=contact, channel=channel, granted=granted, source=(source or "")[:100],
        wording_version=(wording_version or "")[:50], recorded_by=_person(by), import_job=import_job,
    )
    audit(by, AuditEvent.Action.CHANGE, contact, consent_channel=channel, granted=granted, fields=changed,
          source=record.source, **({"import_job": import_job.pk} if import_job else {}))
    if changed and channel == Channel.PROFILING:
        note_add(contact=contact, author=None, kind=Note.Kind.SYSTEM, message=(
            gettext_noop("Objected to automated profiling: scoring and automatic stage changes are paused.") if not granted
            else gettext_noop("Objection to profiling lifted: automated scoring resumes.")))
    elif changed:
        note_add(contact=contact, author=None, kind=Note.Kind.SYSTEM, params={"channel": channel}, message=(
            gettext_noop("Consent withdrawn: %(channel)s.") if not granted else gettext_noop("Consent given: %(channel)s.")))
    return record


def consent_flags_changes(contact: Contact, flags: Mapping[str, Any], *, fill: bool) -> list[tuple[str, bool]]:
    """The (channel, granted) changes that bring the contact's flags to `flags`.

    fill=True (an upsert, an import, a merge): only a ticked box counts; an opt-in, a
    do-not-contact or an objection is turned on, nothing is turned off. fill=False (an
    explicit edit): each given flag is set exactly."""
    changes = []
    for channel in _ORDER:
        flag, value_when_granted = CHANNEL_FLAGS[channel]
        if flag not in flags:
            continue
        wanted = bool(flags[flag])
        if fill and not wanted:
            continue
        if wanted != getattr(contact, flag):
            changes.append((channel, wanted == value_when_granted))
    return changes


def consent_values_after(contact: Contact, flags: Mapping[str, Any], *, fill: bool) -> dict[str, bool]:
    """The flag values the contact would have after consent_flags_set (nothing is written):
    for scoring a new contact before it is inserted."""
    values = {name: getattr(contact, name) for name in CONSENT_FLAGS}
    for channel, granted in consent_flags_changes(contact, flags, fill=fill):
        values.update(_values(channel, granted))
    return values


def consent_flags_set(*, contact: Contact, flags: Mapping[str, Any], source: str, fill: bool = False, by=None,
                      wording_version: str = "", import_job: ImportJob | None = None,
                      record_unchanged: bool = False) -> list[ConsentRecord]:
    """Apply contact-field style consent values (`{"consent_email": True, ...}`) through
    consent_set, one record per channel that changes (or, with record_unchanged, per ticked
    box even if the flag was already set: a form's new evidence)."""
    unknown = set(flags) - set(CONSENT_FLAGS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    contact = Contact.objects.get(pk=contact.pk)
    changes = consent_flags_changes(contact, flags, fill=fill)
    if record_unchanged:
        changed_channels = {channel for channel, _granted in changes}
        for channel in _ORDER:
            flag, value_when_granted = CHANNEL_FLAGS[channel]
            if flag in flags and channel not in changed_channels and (flags[flag] or not fill):
                changes.append((channel, bool(flags[flag]) == value_when_granted))
    records = []
    for channel, granted in changes:
        records.append(consent_set(contact=contact, channel=channel, granted=granted, source=source, by=by,
                                   wording_version=wording_version, import_job=import_job))
    return records


def consents_import(*, ticked: Mapping[int, Mapping[str, bool]], job: ImportJob, by=None) -> set[int]:
    """An import's consent columns for a chunk of contacts, in bulk: fill semantics (a "yes"
    turns an opt-in or do-not-contact on, nothing is turned off), one record per change naming
    the job, one audit row for the chunk. Runs in the chunk's transaction. Returns the ids
    of the contacts whose flags changed (the import rescores them)."""
    ids = sorted(pk for pk, flags in ticked.items() if any(flags.values()))
    if not ids:
        return set()
    contacts = Contact.objects.filter(pk__in=ids).exclude(attributes__has_key=ANONYMISED_KEY).only("pk", *CONSENT_FLAGS)
    records: list[ConsentRecord] = []
    updates: dict[tuple[tuple[str, bool], ...], list[int]] = {}
    now = timezone.now()
    for contact in contacts:
        values: dict[str, bool] = {}
        for channel, granted in consent_flags_changes(contact, ticked[contact.pk], fill=True):
            values.update(_values(channel, granted))
            records.append(ConsentRecord(contact_id=contact.pk, channel=channel, granted=granted, source="import",
                                         recorded_at=now, recorded_by=_person(by), import_job=job))
        values = {name: value for name, value in values.items() if getattr(contact, name) != value}
        if values:
            updates.setdefault(tuple(sorted(values.items())), []).append(contact.pk)
    with transaction.atomic():
        ConsentRecord.objects.bulk_create(records, batch_size=500)
        for values, pks in updates.items():
            Contact.objects.filter(pk__in=pks).update(**dict(values), updated_at=now)
        if records:
            audit(by, AuditEvent.Action.CHANGE, job, what="consent", records=len(records),
                  contacts=sum(len(pks) for pks in updates.values()))
    return {pk for pks in updates.values() for pk in pks}
