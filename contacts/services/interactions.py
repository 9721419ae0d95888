"""Interactions: one logged (idempotent on source and external_id), a batch logged in a
handful of queries, the contact's last_interaction_at kept current; and the kinds catalog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.events import interactions_logged
from contacts.models import Contact, Interaction, InteractionKind
from contacts.selectors import contacts_visible_to
from contacts.services.normalise import has_nul
from contacts.services.rescore import queue_rescore
from crm.audit import audit
from crm.rows import row_insert

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
    kind_slug = _slug(kind)
    now = timezone.now()
    known = _known_kinds([kind])
    errors = _event_errors(kind_slug, occurred_at, data, source, external_id, known_kinds=known, now=now)
    if errors:
        raise ValidationError(errors)
    interaction = Interaction(
        contact=contact, kind_id=kind_slug, occurred_at=occurred_at or now, channel=channel or "", data=dict(data or {}),
        source=(source or "").strip(), external_id=(external_id or "").strip() or None, created_by=by, created_at=now,
    )
    # No savepoint: the insert cannot fail on a retry's key (it answers "taken" instead), and
    # any other error aborts the caller's transaction as it should.
    with transaction.atomic(savepoint=False):
        if not row_insert(interaction, unless_taken=True):
            # A retry (or a concurrent twin that committed first): answer with the row that holds the key.
            return LoggedInteraction(
                Interaction.objects.get(source=interaction.source, external_id=interaction.external_id), created=False)
        _touch_contact(contact.pk, interaction.occurred_at, mark=rescore)
        interactions_logged.send(sender=Interaction, interactions=[interaction])
        if rescore:
            queue_rescore([contact.pk], marked=True)
        if audited and by is not None:
            audit(by, "change", contact, fields=["interactions"], interaction=interaction.pk, source=interaction.source)
    return LoggedInteraction(interaction, created=True)


def _slug(kind: str | InteractionKind) -> str:
    return kind.slug if isinstance(kind, InteractionKind) else kind


def _known_kinds(kinds: Sequence[str | InteractionKind]) -> set[str]:
    """The slugs among these that name kinds in the catalog: a kind read from the database
    (an InteractionKind the caller loaded) is known without asking again."""
    known = {k.slug for k in kinds if isinstance(k, InteractionKind) and not k._state.adding}
    asked = {slug for slug in map(_slug, kinds) if slug not in known and not has_nul(slug)}
    if asked:
        known |= set(InteractionKind.objects.filter(slug__in=asked).values_list("slug", flat=True))
    return known


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
    kind: str | InteractionKind
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
    known = _known_kinds([e.kind for e in events])
    errors: dict[str, list[str]] = {}
    for index, event in enumerate(events):
        for name, messages in _event_errors(_slug(event.kind), event.occurred_at, event.data, event.source, event.external_id,
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
                contact=event.contact, kind_id=_slug(event.kind), occurred_at=event.occurred_at or now, channel=event.channel or "",
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


class ReplayHidden(Exception):
    """events_log: these events' (source, external_id) are taken by events on contacts the caller
    cannot see; nothing was stored. `indexes`: their places in the request."""

    def __init__(self, indexes: list[int]):
        super().__init__(indexes)
        self.indexes = indexes


@transaction.atomic
def events_log(*, events: Sequence[Event], by, batch: bool) -> list[LoggedInteraction]:
    """The API's write of events (one, or a batch through interactions_log_many), all-or-nothing;
    retries (same source and external_id) come back as the original rows. A replay only ever
    answers with a row `by` may read: one that belongs to a contact `by` cannot see raises
    ReplayHidden, and the whole call is rolled back."""
    if batch:
        logged = interactions_log_many(events=events, by=by)
    else:
        (event,) = events
        logged = [interaction_log(
            contact=event.contact, kind=event.kind, occurred_at=event.occurred_at, channel=event.channel,
            data=event.data, source=event.source, external_id=event.external_id, by=by,
        )]
    replayed = {item.interaction.contact_id for item in logged if not item.created}
    if replayed:
        readable = set(contacts_visible_to(by).filter(pk__in=replayed).values_list("pk", flat=True))
        hidden = [index for index, item in enumerate(logged) if not item.created and item.interaction.contact_id not in readable]
        if hidden:
            raise ReplayHidden(hidden)
    return logged


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
    `mark`, the same UPDATE marks the contact for rescoring (one row version, not two).
    Plain SQL: it runs for every event, and the ORM's expression compiler cost more than the UPDATE."""
    adapt = connection.ops.adapt_datetimefield_value
    at = adapt(occurred_at)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE contacts_contact SET last_interaction_at = CASE WHEN last_interaction_at IS NULL"
            " OR last_interaction_at < %s THEN %s ELSE last_interaction_at END, updated_at = %s"
            + (", needs_rescore = %s" if mark else "") + " WHERE id = %s",
            [at, at, adapt(timezone.now()), *([True] if mark else []), contact_id],
        )


@transaction.atomic
def interaction_kind_create(*, data: Mapping[str, Any], by=None) -> InteractionKind:
    """Add a kind to the catalog (the API and the Django admin), with its audit row."""
    kind = InteractionKind(**data)
    kind.full_clean(validate_unique=False)
    kind.save(force_insert=True)
    audit(by, "create", kind)
    return kind
