"""Every write to contacts goes through here: pages, API, imports, commands and tasks.

Each service takes keyword arguments, validates, runs in one transaction, writes its
own audit row (crm.audit: ids and field names, never personal data), and, when a score
can change, marks the contact stale and queues scoring after commit. So a change made from
a page, the API, a command or a task leaves the same trace.

Consent flags are never written here: they go through contacts.consent, which records the
evidence (who, when, how, wording or import job).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, IntegrityError, InterfaceError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.events import contacts_assigned, contacts_created, interactions_logged, stage_changes_recorded
from contacts.models import Contact, Industry, Interaction, InteractionKind, Note, Stage, StageChange, Tag
from crm.audit import audit
from crm.celery import app
from scoring.tasks import pending_wake  # the one door from contacts into scoring (docs/architecture.md)

log = logging.getLogger(__name__)

# Fields a caller may set on a contact through contact_upsert / contact_update.
CONTACT_FIELDS = (
    "full_name", "email", "phone", "social_handle", "company", "job_title", "city", "industry",
    "source", "utm_source", "utm_medium", "utm_campaign", "external_source", "external_ref",
    "consent_email", "consent_whatsapp", "consent_sms", "do_not_contact", "objects_to_profiling",
)
# Changing one of these can change a score (attribute rules, rule-set choice, profiling).
SCORED_FIELDS = frozenset(CONTACT_FIELDS) - {"external_source", "external_ref"}
BOOLEAN_FIELDS = frozenset({"consent_email", "consent_whatsapp", "consent_sms", "do_not_contact", "objects_to_profiling"})
# The consent flags: written only by contacts.consent, with evidence.
CONSENT_FIELDS = BOOLEAN_FIELDS


# --- Normalisation -------------------------------------------------------------

# An import normalises each row's email and phone twice (the duplicate lookup, then the
# cleaner), and parsing phone numbers is costly (docs/performance.md). Only valid results are cached:
# a ValidationError is raised afresh, in the reader's language.

def normalize_email(value: str | None) -> str | None:
    """Lowercased and trimmed; None when blank; ValidationError when not an address."""
    value = (value or "").strip().lower()
    return _valid_email(value) if value else None


@functools.lru_cache(maxsize=4096)
def _valid_email(value: str) -> str:
    validate_email(value)
    return value


def normalize_phone(value: str | None, region: str = "ID") -> str | None:
    """E.164 (`0812-3456-7890` → `+6281234567890`); None when blank; ValidationError (worded for
    the reader) when the digits cannot be a real number: too short, too long, or a local
    number missing digits (`0812345` is not `+620812345`)."""
    raw = (str(value) if value is not None else "").strip()
    return _e164(raw, region) if raw else None


@functools.lru_cache(maxsize=4096)
def _e164(raw: str, region: str) -> str:
    number = phone_parse(raw, region)
    if number is None:
        raise ValidationError(phone_problem(raw, region))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_parse(raw: str, region: str = "ID") -> phonenumbers.PhoneNumber | None:
    """The number when it is a valid one for its country (per libphonenumber's metadata), else None.

    Valid, not merely possible: "possible" only checks the length, so a local number with too
    few digits kept its trunk 0 and passed as `+620812345`."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not raw.startswith("+") and digits.startswith(str(phonenumbers.country_code_for_region(region))):
        # "62812345678" is +62 812345678 written without its "+" (nobody writes a local number
        # without its trunk 0), although the digits could also pass as a local landline.
        with_plus = _parse_valid("+" + digits, region)
        if with_plus is not None:
            return with_plus
    return _parse_valid(raw, region)


def _parse_valid(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def phone_problem(raw: str, region: str = "ID") -> str:
    """Why `raw` is refused, in the reader's language (the caller names the field)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.TOO_LONG:
            return _("“%(value)s” is too long for a phone number.") % {"value": raw}
        if exc.error_type in (phonenumbers.NumberParseException.TOO_SHORT_NSN,
                              phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD):
            return _("“%(value)s” is too short for a phone number: give every digit, e.g. 0812-3456-7890.") % {"value": raw}
        return _("“%(value)s” is not a phone number.") % {"value": raw}
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not raw.startswith("+") and digits.startswith("0") and not digits.startswith("00"):
        # A local number: judge its length without the trunk 0, which the parser keeps
        # when what follows is too short or too long to be a number.
        number = phonenumbers.PhoneNumber(country_code=number.country_code, national_number=int(digits[1:] or 0))
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in (phonenumbers.ValidationResult.TOO_SHORT, phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return _("“%(value)s” is too short for a phone number: give every digit, e.g. 0812-3456-7890.") % {"value": raw}
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return _("“%(value)s” is too long for a phone number.") % {"value": raw}
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return _("“%(value)s” has an unknown country code.") % {"value": raw}
    return _("“%(value)s” is not a valid phone number: check the digits.") % {"value": raw}


@functools.lru_cache(maxsize=4096)
def phone_is_mobile(e164: str | None) -> bool:
    """Whether a stored (E.164) number can be a WhatsApp number: a mobile, or a number its
    country does not tell apart from a mobile (the US, Canada)."""
    if not e164:
        return False
    number = phone_parse(e164)
    return number is not None and phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def has_nul(value: Any) -> bool:
    """NUL characters cannot be stored in PostgreSQL text or JSON; refuse them up front."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(v) for v in value)
    return False


def clean_contact_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise contact fields; errors are collected per field."""
    unknown = set(data) - set(CONTACT_FIELDS) - {"attributes", "owner", "tags"}
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        try:
            if name not in ("owner",) and has_nul(value):
                raise ValidationError(_("Contains a NUL character."))
            if name == "email":
                cleaned[name] = normalize_email(value)
            elif name == "phone":
                cleaned[name] = normalize_phone(value)
            elif name == "industry":
                value = (value or Industry.OTHER).strip().lower()
                if value not in Industry.values:
                    raise ValidationError(
                        _("Unknown industry “%(value)s”; use one of %(choices)s.")
                        % {"value": value, "choices": ", ".join(Industry.values)}
                    )
                cleaned[name] = value
            elif name in BOOLEAN_FIELDS:
                cleaned[name] = bool(value)
            elif name == "external_ref":
                cleaned[name] = (str(value).strip() or None) if value is not None else None
            elif name == "attributes":
                if not isinstance(value, dict):
                    raise ValidationError(_("Must be an object of key/value pairs."))
                cleaned[name] = value
            elif name in ("owner", "tags"):
                cleaned[name] = value
            else:
                cleaned[name] = (value or "").strip() if isinstance(value, str) or value is None else str(value)
                max_length = Contact._meta.get_field(name).max_length
                if max_length and len(cleaned[name]) > max_length:
                    raise ValidationError(_("At most %(n)d characters.") % {"n": max_length})
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


# --- Scoring hook --------------------------------------------------------------

def queue_rescore(contact_ids: Iterable[int], *, marked: bool = False) -> None:
    """Mark contacts stale now (inside the caller's transaction) and wake the scorer after
    commit. If the broker is down the mark stays and the sweeper catches up later.
    `marked`: the caller's own UPDATE of these rows set needs_rescore already."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    if not marked:
        Contact.objects.filter(pk__in=ids, needs_rescore=False).update(needs_rescore=True)
    transaction.on_commit(_wake_scorer)


def _wake_scorer() -> None:
    """Wake the bulk scorer, which scores every marked contact in one pass (one run per burst,
    not per event). With a broker it runs on a worker; on the embedded default (eager Celery)
    the very same task runs here, synchronously."""
    try:
        pending_wake()
    except (DatabaseError, InterfaceError) as exc:
        # In-process scoring hit a busy or lost database after the write was committed: the
        # write stands, the mark stays, and the stale sweeper scores it.
        log.warning("Scoring deferred (%s); contact left for the stale sweeper.", type(exc).__name__)
    except Exception as exc:
        if app.conf.task_always_eager:
            raise  # in-process: the error is ours, not the broker's
        # The write is committed and marked stale; rescore_stale_task will score it.
        log.warning("Could not queue scoring (%s); contact left for the stale sweeper.", type(exc).__name__)


# --- Contacts ------------------------------------------------------------------

def _apply(contact: Contact, cleaned: Mapping[str, Any], *, overwrite: bool, fill_only: bool = False) -> set[str]:
    """Copy cleaned values onto the contact. Without overwrite, blanks never replace data
    and existing values are kept for identity fields. With fill_only (an anonymous form
    submission), no field that holds a value is replaced: only blanks are filled."""
    changed: set[str] = set()
    for name, value in cleaned.items():
        if name in ("attributes", "tags", "owner"):
            continue
        if name in CONSENT_FIELDS:
            continue  # contacts.consent writes these, with evidence
        current = getattr(contact, name)
        if value in (None, ""):
            if overwrite and current not in (None, ""):
                setattr(contact, name, None if name in ("email", "phone", "external_ref") else "")
                changed.add(name)
            continue
        if name in ("email", "phone", "external_ref") and current and not overwrite:
            continue  # never replace an identity silently
        if name == "external_source" and contact.external_ref and not overwrite:
            continue  # the source belongs to the reference we keep
        if fill_only and not overwrite and current not in (None, ""):
            continue  # someone set this: a fill-only merge leaves it
        if current != value:
            setattr(contact, name, value)
            changed.add(name)
    if cleaned.get("attributes"):
        merged = ({**cleaned["attributes"], **contact.attributes} if fill_only and not overwrite
                  else {**contact.attributes, **cleaned["attributes"]})
        if merged != contact.attributes:
            contact.attributes = merged
            changed.add("attributes")
    if "owner" in cleaned and (overwrite or contact.owner_id is None) and contact.owner_id != getattr(cleaned["owner"], "pk", cleaned["owner"]):
        contact.owner = cleaned["owner"]
        changed.add("owner")
    return changed


def contact_find(*, email: str | None = None, phone: str | None = None,
                 external_source: str = "", external_ref: str | None = None) -> Contact | None:
    """The existing contact for an identity: email first, then phone, then external reference."""
    if email and (found := Contact.objects.filter(email=email).first()):
        return found
    if phone and (found := Contact.objects.filter(phone=phone).first()):
        return found
    if external_ref and (found := Contact.objects.filter(external_source=external_source, external_ref=external_ref).first()):
        return found
    return None


@dataclass(frozen=True)
class UpsertResult:
    contact: Contact
    created: bool
    changed: frozenset[str]


def contact_upsert(*, data: Mapping[str, Any], by=None, rescore: bool = True, fill_only: bool = False,
                   consent_source: str = "crm", wording_version: str = "") -> UpsertResult:
    """Create a contact, or merge into the one with the same email, phone or external
    reference: new non-empty values fill in, blanks never overwrite. With fill_only, an
    existing contact's non-empty fields are kept too (anonymous landing-page submissions).
    Ticked consent flags (an opt-in, do-not-contact, an objection) are turned on through
    contacts.consent with evidence naming `consent_source`; an upsert never turns one off.

    Safe under concurrency: two simultaneous upserts of one email make one contact
    (the unique constraint decides; the loser merges into the winner)."""
    cleaned = clean_contact_data(data)
    if not (cleaned.get("email") or cleaned.get("phone") or cleaned.get("external_ref") or cleaned.get("full_name")):
        raise ValidationError({"email": _("Give at least an email, a phone, a name or an external reference.")})
    for attempt in range(3):
        try:
            with transaction.atomic():
                result = _contact_upsert_once(cleaned, by=by, rescore=rescore, fill_only=fill_only)
                return _upsert_consent(result, cleaned, by=by, source=consent_source, wording_version=wording_version)
        except IntegrityError:
            if attempt == 2:
                raise
            # A concurrent writer created the same identity between our read and insert.
    raise AssertionError("unreachable")


def contact_new(cleaned: Mapping[str, Any]) -> Contact:
    """A new contact from clean_contact_data's output, validated and not saved: contact_upsert's
    create path, and the importer's bulk insert of people it has never seen. Consent flags are
    left unset (contacts.consent writes them, with evidence); tags are added once it has an id."""
    contact = Contact()
    _apply(contact, cleaned, overwrite=True)
    contact.full_clean(exclude=["email", "phone"], validate_unique=False, validate_constraints=False)
    return contact


class ContactExists(Exception):
    """contact_create found (or raced with) a contact holding the identity; nothing was written."""

    def __init__(self, contact_id: int):
        super().__init__(contact_id)
        self.contact_id = contact_id


@transaction.atomic
def contact_create(*, data: Mapping[str, Any], by=None, consent_source: str = "crm", wording_version: str = "") -> Contact:
    """Create a new contact, never merge: when its email, phone or external reference belongs
    to an existing contact (found now, or created by a concurrent request) nothing is written
    and ContactExists names that contact. Consent flags go through contacts.consent with
    evidence naming `consent_source`; the audit row ("create", field names only) is written here."""
    result = contact_upsert(data=data, by=by, consent_source=consent_source, wording_version=wording_version)
    if not result.created:
        raise ContactExists(result.contact.pk)  # rolls back the merge contact_upsert just made
    audit(by, "create", result.contact, fields=sorted(data))
    return result.contact


def _upsert_consent(result: UpsertResult, cleaned: Mapping[str, Any], *, by, source: str, wording_version: str) -> UpsertResult:
    flags = {name: cleaned[name] for name in CONSENT_FIELDS if name in cleaned}
    if not any(flags.values()):
        return result
    from contacts.consent import FLAG_CHANNELS, consent_flags_set

    records = consent_flags_set(contact=result.contact, flags=flags, fill=True, source=source, by=by,
                                wording_version=wording_version)
    if not records:
        return result
    result.contact.refresh_from_db()
    channels = {record.channel for record in records}
    changed = {flag for flag, channel in FLAG_CHANNELS.items() if channel in channels}
    return UpsertResult(contact=result.contact, created=result.created, changed=result.changed | changed)


def _contact_upsert_once(cleaned: dict[str, Any], *, by, rescore: bool, fill_only: bool = False) -> UpsertResult:
    existing = contact_find(
        email=cleaned.get("email"), phone=cleaned.get("phone"),
        external_source=cleaned.get("external_source", ""), external_ref=cleaned.get("external_ref"),
    )
    if existing is None:
        contact = contact_new(cleaned)
        contact.save()
        changed = frozenset(cleaned) - CONSENT_FIELDS
        created = True
        contacts_created.send(sender=Contact, contact_ids=[contact.pk])
    else:
        contact = Contact.objects.select_for_update().get(pk=existing.pk)
        # Identity values held by another contact are not copied over (would violate uniqueness).
        for name in ("email", "phone"):
            value = cleaned.get(name)
            if value and getattr(contact, name) != value and Contact.objects.filter(**{name: value}).exclude(pk=contact.pk).exists():
                cleaned = {k: v for k, v in cleaned.items() if k != name}
        changed = frozenset(_apply(contact, cleaned, overwrite=False, fill_only=fill_only))
        if changed:
            contact.save(update_fields=[*changed, "updated_at"])
        created = False
    if cleaned.get("tags"):
        contact.tags.add(*tag_get_or_create(cleaned["tags"]))
    if rescore and (created or changed & SCORED_FIELDS):
        queue_rescore([contact.pk])
    return UpsertResult(contact=contact, created=created, changed=changed)


@transaction.atomic
def contact_update(*, contact: Contact, data: Mapping[str, Any], by=None, consent_source: str = "crm") -> Contact:
    """An explicit edit (a form or PATCH): given fields are set exactly, blanks included.
    Consent flags that change go through contacts.consent (evidence naming `consent_source`;
    lifting the objection to profiling is refused unless `by` is an admin)."""
    cleaned = clean_contact_data(data)
    for name in ("email", "phone"):
        value = cleaned.get(name)
        if value and Contact.objects.filter(**{name: value}).exclude(pk=contact.pk).exists():
            raise ValidationError({name: _("Another contact already has this %(field)s.") % {"field": name}})
    if {"external_ref", "external_source"} & set(cleaned):
        # Unique per source (a constraint): a clear error naming the field, not an IntegrityError.
        ref = cleaned.get("external_ref", contact.external_ref)
        source = cleaned.get("external_source", contact.external_source) or ""
        if ref and Contact.objects.filter(external_source=source, external_ref=ref).exclude(pk=contact.pk).exists():
            raise ValidationError({"external_ref": _("Another contact already has this external reference.")})
    changed = _apply(contact, cleaned, overwrite=True)
    if changed:
        # Only the edited columns: a stale instance must not roll back a score the worker just wrote.
        contact.save(update_fields=[*(changed - {"tags"}), "updated_at"])
        audit(by, "change", contact, fields=sorted(changed))
    if changed & SCORED_FIELDS:
        queue_rescore([contact.pk])
    flags = {name: cleaned[name] for name in CONSENT_FIELDS if name in cleaned}
    if flags:
        from contacts.consent import consent_flags_set

        if consent_flags_set(contact=contact, flags=flags, source=consent_source, by=by):
            fresh = Contact.objects.only(*CONSENT_FIELDS).get(pk=contact.pk)
            for name in CONSENT_FIELDS:
                setattr(contact, name, getattr(fresh, name))
    return contact


def _tag_name(name: str) -> str:
    return name.strip()[:50]


def tag_get_or_create(names: Iterable[str]) -> list[Tag]:
    tags = []
    for name in {_tag_name(n) for n in names if n and n.strip()}:
        tag, _created = Tag.objects.get_or_create(name=name)
        tags.append(tag)
    return tags


def tags_add(tagged: Iterable[tuple[int, Iterable[str]]]) -> None:
    """Tag many contacts by id at once ((contact id, tag names) pairs): the importer's bulk insert."""
    tagged = [(pk, {_tag_name(n) for n in names if n and n.strip()}) for pk, names in tagged]
    tags = {t.name: t for t in tag_get_or_create({n for _pk, names in tagged for n in names})}
    Contact.tags.through.objects.bulk_create([
        Contact.tags.through(contact_id=pk, tag_id=tags[n].pk) for pk, names in tagged for n in names
    ], ignore_conflicts=True)


@transaction.atomic
def contacts_add_tag(*, contact_ids: Iterable[int], name: str, by=None) -> int:
    (tag,) = tag_get_or_create([name])
    ids = list(contact_ids)
    Contact.tags.through.objects.bulk_create(
        [Contact.tags.through(contact_id=pk, tag_id=tag.pk) for pk in ids], ignore_conflicts=True,
    )
    audit(by, "change", object_type=Contact._meta.label_lower, fields=["tags"], count=len(ids), ids=ids)
    return len(ids)


def _assign_owner(ids: list[int], owner, by) -> int:
    count = Contact.objects.filter(pk__in=ids).update(owner=owner, updated_at=timezone.now())
    for contact_id in ids:
        note_add(contact_id=contact_id, author=by, kind=Note.Kind.SYSTEM,
                 body=_("Assigned to %(owner)s.") % {"owner": owner.get_full_name() or owner.username} if owner else _("Owner removed."))
    # In the caller's transaction: the follow-up tasks and the rep's notification commit with it.
    contacts_assigned.send(sender=Contact, assignments=[(pk, owner.pk if owner else None) for pk in ids], by=by)
    return count


@transaction.atomic
def contacts_assign_owner(*, contact_ids: Iterable[int], owner, by=None) -> int:
    ids = list(contact_ids)
    count = _assign_owner(ids, owner, by)
    audit(by, "change", object_type=Contact._meta.label_lower, fields=["owner"], count=count, ids=ids)
    return count


# --- Interactions --------------------------------------------------------------

# Interaction sources that are capture submissions' own key spaces ("form:<form id>", and
# "capture:user:<id>" for token callers without a form): only capture writes them, so no
# other sender can take (or be shadowed by) a submission's external_id.
CAPTURE_KEY_PREFIXES = ("form:", "capture:")


def is_capture_key_space(source: str | None) -> bool:
    return (source or "").strip().lower().startswith(CAPTURE_KEY_PREFIXES)


@dataclass(frozen=True)
class LoggedInteraction:
    interaction: Interaction
    created: bool


def interaction_log(
    *,
    contact: Contact,
    kind: str | InteractionKind,
    occurred_at: datetime | None = None,
    channel: str = "",
    data: Mapping[str, Any] | None = None,
    source: str = "",
    external_id: str | None = None,
    by=None,
    rescore: bool = True,
    audited: bool = True,
) -> LoggedInteraction:
    """Record something a contact did. With `external_id`, a retry of the same
    (source, external_id) returns the original interaction and writes nothing. When a person
    logs it (`by`), the audit row is written here; what the system records on its own (a
    public form, an email open) is not a person's change (`audited=False`: the importer,
    whose job is audited whole)."""
    kind_slug = kind.slug if isinstance(kind, InteractionKind) else kind
    now = timezone.now()
    known = set() if has_nul(kind_slug) else set(InteractionKind.objects.filter(slug=kind_slug).values_list("slug", flat=True))
    errors = _event_errors(kind_slug, occurred_at, data, source, external_id, known_kinds=known, now=now)
    if errors:
        raise ValidationError(errors)
    occurred_at = occurred_at or now
    external_id = (external_id or "").strip() or None
    source = (source or "").strip()
    if external_id and (found := Interaction.objects.filter(source=source, external_id=external_id).first()):
        return LoggedInteraction(found, created=False)
    try:
        with transaction.atomic():
            interaction = Interaction.objects.create(
                contact=contact, kind_id=kind_slug, occurred_at=occurred_at, channel=channel or "",
                data=dict(data or {}), source=source, external_id=external_id, created_by=by,
            )
            _touch_contact(contact.pk, occurred_at, mark=rescore)
            interactions_logged.send(sender=Interaction, interactions=[interaction])
            if rescore:
                queue_rescore([contact.pk], marked=True)
            if audited and by is not None:
                audit(by, "change", contact, fields=["interactions"], interaction=interaction.pk, source=source)
    except IntegrityError:
        # A concurrent retry with the same external id won the race: answer with its row.
        found = Interaction.objects.filter(source=source, external_id=external_id).first() if external_id else None
        if found is None:
            raise
        return LoggedInteraction(found, created=False)
    return LoggedInteraction(interaction, created=True)


def _event_errors(kind: str, occurred_at: datetime | None, data: Any, source: Any, external_id: Any, *,
                  known_kinds: set[str], now: datetime) -> dict[str, list[str]]:
    """What is wrong with one event, by field (empty when it may be written)."""
    errors: dict[str, list[str]] = {}
    for name, value in (("data", data), ("source", source), ("external_id", external_id), ("kind", kind)):
        if has_nul(value):
            errors[name] = [_("Contains a NUL character.")]
    if "kind" not in errors and kind not in known_kinds:
        errors["kind"] = [_("Unknown interaction kind “%(kind)s”.") % {"kind": kind}]
    if occurred_at is not None:
        if timezone.is_naive(occurred_at):
            errors["occurred_at"] = [_("Give a time zone (e.g. 2026-11-20T10:00:00+07:00).")]
        elif occurred_at > now + settings.CRM_FUTURE_SKEW:
            errors["occurred_at"] = [_("Cannot be in the future.")]
    return errors


@dataclass(frozen=True)
class Event:
    """One event for interactions_log_many: the arguments of interaction_log."""

    contact: Contact
    kind: str
    occurred_at: datetime | None = None
    channel: str = ""
    data: Mapping[str, Any] | None = None
    source: str = ""
    external_id: str | None = None


def interactions_log_many(*, events: Sequence[Event], by=None, rescore: bool = True) -> list[LoggedInteraction]:
    """interaction_log for a batch, all-or-nothing, in a handful of queries whatever its size:
    every event is checked first (errors are keyed "index.field"), replays are found in one
    query, new rows are one INSERT, each contact is touched once and rescored once.
    An event repeating an earlier one of the same batch (same source and external_id) is
    a replay of it."""
    now = timezone.now()
    named = {e.kind for e in events if not has_nul(e.kind)}
    known = set(InteractionKind.objects.filter(slug__in=named).values_list("slug", flat=True))
    errors: dict[str, list[str]] = {}
    for index, event in enumerate(events):
        for name, messages in _event_errors(event.kind, event.occurred_at, event.data, event.source, event.external_id,
                                            known_kinds=known, now=now).items():
            errors[f"{index}.{name}"] = messages
    if errors:
        raise ValidationError(errors)
    keyed = [((e.source or "").strip(), (e.external_id or "").strip() or None) for e in events]
    existing = _interactions_by_key({key for key in keyed if key[1]})
    results: list[LoggedInteraction | None] = []
    new_rows: dict[tuple[str, str] | int, Interaction] = {}
    for index, (event, key) in enumerate(zip(events, keyed, strict=True)):
        if key[1] and key in existing:
            results.append(LoggedInteraction(existing[key], created=False))
        elif key[1] and key in new_rows:
            results.append(None)  # a repeat inside the batch: filled in once the first is written
        else:
            row = new_rows[key if key[1] else index] = Interaction(
                contact=event.contact, kind_id=event.kind, occurred_at=event.occurred_at or now, channel=event.channel or "",
                data=dict(event.data or {}), source=key[0], external_id=key[1], created_by=by, created_at=now,
            )
            results.append(LoggedInteraction(row, created=True))
    try:
        with transaction.atomic():
            Interaction.objects.bulk_create(new_rows.values())
            interactions_logged.send(sender=Interaction, interactions=list(new_rows.values()))
            latest: dict[int, datetime] = {}
            for row in new_rows.values():
                latest[row.contact_id] = max(latest.get(row.contact_id, row.occurred_at), row.occurred_at)
            _touch_contacts(latest)
            if rescore:
                queue_rescore(latest)
            if new_rows:
                audit(by, "change", object_type=Contact._meta.label_lower, fields=["interactions"],
                      count=len(new_rows), ids=sorted(latest))
    except IntegrityError:
        # A concurrent request wrote one of these external ids first: go event by event,
        # which answers such an event with the row that won (still one transaction).
        with transaction.atomic():
            return [interaction_log(contact=e.contact, kind=e.kind, occurred_at=e.occurred_at, channel=e.channel, data=e.data,
                                    source=e.source, external_id=e.external_id, by=by, rescore=rescore) for e in events]
    return [item or LoggedInteraction(new_rows[key], created=False) for item, key in zip(results, keyed, strict=True)]


def _interactions_by_key(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Interaction]:
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    found: dict[tuple[str, str], Interaction] = {}
    for source, external_ids in by_source.items():
        for row in Interaction.objects.filter(source=source, external_id__in=external_ids):
            found[(row.source, row.external_id)] = row
    return found


def _touch_contacts(latest: Mapping[int, datetime]) -> None:
    """_touch_contact for many contacts: rows locked in id order (two batches touching the
    same contacts cannot deadlock), then one UPDATE on PostgreSQL."""
    if not latest:
        return
    ids = sorted(latest)
    if connection.vendor != "postgresql":
        for contact_id in ids:
            _touch_contact(contact_id, latest[contact_id])
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM contacts_contact WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [ids])
        cursor.execute(
            "UPDATE contacts_contact AS c SET updated_at = %s,"
            " last_interaction_at = GREATEST(COALESCE(c.last_interaction_at, v.at), v.at)"
            " FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) WHERE c.id = v.id",
            [timezone.now(), ids, [latest[i] for i in ids]],
        )


def _touch_contact(contact_id: int, occurred_at: datetime, *, mark: bool = False) -> None:
    """Keep last_interaction_at current in one UPDATE, without reading the row first; with
    `mark`, the same UPDATE marks the contact for rescoring (one row version, not two)."""
    Contact.objects.filter(pk=contact_id).update(
        last_interaction_at=Greatest(Coalesce("last_interaction_at", Value(occurred_at)), Value(occurred_at)),
        updated_at=timezone.now(), **({"needs_rescore": True} if mark else {}),
    )


# --- Notes ---------------------------------------------------------------------

def note_add(*, contact: Contact | None = None, contact_id: int | None = None, author, body: str,
             due_at: datetime | None = None, kind: str = Note.Kind.NOTE) -> Note:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something.")})
    if due_at is not None and kind == Note.Kind.NOTE:
        kind = Note.Kind.FOLLOW_UP
    contact_id = contact.pk if contact is not None else contact_id
    with transaction.atomic():
        note = Note.objects.create(contact_id=contact_id, author=author, body=body, due_at=due_at, kind=kind)
        if kind != Note.Kind.SYSTEM and author is not None:
            # A rep's note is a personal touch: it ends the "never contacted" state.
            Contact.objects.filter(pk=contact_id, first_contacted_at__isnull=True).update(first_contacted_at=note.created_at)
        if kind != Note.Kind.SYSTEM:
            audit(author, "change", object_type=Contact._meta.label_lower, object_id=contact_id, fields=["notes"])
    return note


@transaction.atomic
def note_complete(*, note: Note, by=None) -> Note:
    if note.done_at is None:
        note.done_at = timezone.now()
        note.save(update_fields=["done_at", "updated_at"])
        audit(by, "change", object_type=Contact._meta.label_lower, object_id=note.contact_id, fields=["notes"])
    return note


# --- Stage by hand -------------------------------------------------------------

@transaction.atomic
def contact_set_stage(*, contact: Contact, stage: str, by, note: str = "") -> Contact:
    """A person sets the stage: it is pinned, so rules no longer move it until unpinned."""
    if stage not in Stage.values:
        raise ValidationError({"stage": _("Unknown stage “%(stage)s”.") % {"stage": stage}})
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    now = timezone.now()
    change = None
    if contact.stage != stage:
        change = StageChange.objects.create(
            contact=contact, from_stage=contact.stage, to_stage=stage, changed_at=now,
            reason_code=StageChange.Reason.MANUAL, reason_params={"note": note[:200]} if note else {},
            score=contact.score, user=by,
        )
        contact.stage = stage
        contact.stage_changed_at = now
    contact.stage_pinned = True
    contact.save(update_fields=["stage", "stage_changed_at", "stage_pinned", "updated_at"])
    if change is not None:
        stage_changes_recorded([change])
    audit(by, "change", contact, fields=["stage", "stage_pinned"])
    return contact


@transaction.atomic
def contact_unpin(*, contact: Contact, by) -> Contact:
    updated = Contact.objects.filter(pk=contact.pk, stage_pinned=True).update(stage_pinned=False, updated_at=timezone.now())
    if updated:
        note_add(contact_id=contact.pk, author=by, kind=Note.Kind.SYSTEM, body=_("Stage unpinned: rules move it again."))
        queue_rescore([contact.pk])
        audit(by, "change", contact, fields=["stage_pinned"])
    contact.refresh_from_db()
    return contact


@transaction.atomic
def contact_assign_owner(*, contact: Contact, owner, by) -> Contact:
    _assign_owner([contact.pk], owner, by)
    audit(by, "change", contact, fields=["owner"])
    contact.refresh_from_db()
    return contact



def contact_mark_contacted(contact_id: int, when: datetime | None = None) -> None:
    """The first personal contact (a WhatsApp click, a completed call) ends "not yet contacted"."""
    Contact.objects.filter(pk=contact_id, first_contacted_at__isnull=True).update(first_contacted_at=when or timezone.now())


@transaction.atomic
def interaction_kind_create(*, data: Mapping[str, Any], by=None) -> InteractionKind:
    """Add a kind to the catalog (the API and the Django admin), with its audit row."""
    kind = InteractionKind(**data)
    kind.full_clean(validate_unique=False)
    kind.save(force_insert=True)
    audit(by, "create", kind)
    return kind
