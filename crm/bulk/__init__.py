"""Bulk actions on contacts (issue 18): on selected rows, a whole filtered list or a saved segment,
each previewed with a count (and the skipped ones counted by reason) before it runs, and audited.

The flow: `bulk_draft` freezes the selection (contact ids) in a BulkAction row; `bulk_plan` says,
for given parameters, which contacts the action would change and why the others would be skipped
(it writes nothing: the preview page); `bulk_run` claims the row (a conditional UPDATE, so a
double click runs it once), plans again (things may have moved since the preview) and hands the
contacts to change to the one service that owns each change:

| action   | service                                          | who                          |
| -------- | ------------------------------------------------ | ---------------------------- |
| assign   | contacts.services.contacts_assign_owner          | admins and sales managers    |
| tag      | contacts.services.contacts_add_tag               | everyone, on what they edit  |
| untag    | contacts.services.contacts_remove_tag            | everyone, on what they edit  |
| stage    | contacts.services.contacts_set_stage (pins)      | everyone, on what they edit  |
| sequence | nurture.sequences.enrollments_add                | admins and marketers         |
| erase    | contacts.privacy.contacts_erase                  | admins                       |

Each service writes its own audit row (and the stage changes, notes, enrollments, webhook events
it always writes); the bulk action adds one row of its own: the action, how the contacts were
chosen (ids, a segment, the list's filters), how many were selected, changed and skipped (by reason).
This module sits in crm's top layer because it calls contacts and nurture alike."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts import privacy
from contacts import services as contact_services
from contacts.models import Contact, Segment
from contacts.selectors import LIST_COUNT_CAP, contact_list, contacts_editable_by, contacts_visible_to, segment_contacts
from crm import roles
from crm.audit import audit
from crm.models import AuditEvent, BulkAction
from nurture import guardrails
from nurture import sequences as nurture_sequences
from nurture.models import Sequence

Kind = BulkAction.Kind
# Plain strings (dict keys and template comparisons), the values of BulkAction.Kind.
ASSIGN, TAG, UNTAG, STAGE, SEQUENCE, ERASE = (str(kind.value) for kind in Kind)
ACTION_LABELS = dict(Kind.choices)
ACTIONS = tuple(Kind.values)

# Why a selected contact is left alone (codes stored in the result; words rendered when shown).
SKIP_LABELS = {
    "not_editable": gettext_lazy("you may not change them (another rep's contacts)"),
    "gone": gettext_lazy("no longer exist"),
    "already_owner": gettext_lazy("already have this owner"),
    "has_tag": gettext_lazy("already have the tag"),
    "no_tag": gettext_lazy("do not have the tag"),
    "at_stage": gettext_lazy("already at this stage (and pinned)"),
    nurture_sequences.IN_SEQUENCE: gettext_lazy("already in this sequence"),
    nurture_sequences.PAUSED: gettext_lazy("the sequence is paused"),
    nurture_sequences.NO_STEPS: gettext_lazy("the sequence has no steps"),
    nurture_sequences.INDUSTRY: gettext_lazy("of another industry than the sequence's"),
    guardrails.DO_NOT_CONTACT: gettext_lazy("asked not to be contacted"),
    guardrails.STAGE: gettext_lazy("at a stage the sequence's messages may not reach (stage guardrail)"),
    guardrails.CONSENT: gettext_lazy("no email consent"),
    guardrails.ADDRESS: gettext_lazy("no email address"),
    "anonymised": gettext_lazy("anonymised already"),
    "not_allowed": gettext_lazy("your role may no longer run this action"),
    "sequence_gone": gettext_lazy("the sequence was deleted"),
}
ERASE_MODES = privacy.ERASE_MODES
DRAFT_DAYS = 2  # unconfirmed previews older than this are removed when a new one is made


def may(user, action: str) -> bool:
    """Whether the user's role may run this bulk action at all (on contacts they may edit)."""
    if action == ASSIGN:
        return roles.can_reassign(user)
    if action == SEQUENCE:
        return bool(roles.roles_of(user) & {roles.ADMIN, roles.MARKETER})
    if action == ERASE:
        return roles.is_admin(user)
    return action in ACTIONS and bool(roles.roles_of(user))


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def skip_label(reason: str) -> str:
    return str(SKIP_LABELS.get(reason, reason))


# --- Choosing the contacts -----------------------------------------------------------------

def selection_resolve(user, *, ids: list[int] | None = None, segment: Segment | None = None,
                      query: str | None = None, request=None) -> tuple[list[int], dict[str, Any]]:
    """The contact ids a bulk action is for, and how they were chosen (for the audit row): ticked
    rows (`ids`), a whole saved segment, or the whole list for a query string (the list's filters,
    stage tab and segment included). At most LIST_COUNT_CAP contacts; ticked ids the user cannot
    see are refused (PermissionDenied), as they are nowhere on the user's pages."""
    if segment is not None:
        qs, selection = segment_contacts(segment, user, request=request), {
            "scope": "segment", "segment": segment.pk, "filters": segment.filters}
    elif query is not None:
        params = QueryDict(query, mutable=True)
        for key in ("page", "ordering"):
            params.pop(key, None)
        qs, _filterset = contact_list(user, params, request=request)
        # The list's filters; a search term may be a name or a phone, so only that a search was made.
        selection = {"scope": "list", "filters": {k: True if k == "search" else params[k] for k in params}}
        if str(params.get("segment", "")).isdigit():
            selection["segment"] = int(params["segment"])
    else:
        wanted = list(dict.fromkeys(ids or []))
        visible = set(contacts_visible_to(user).filter(pk__in=wanted).values_list("pk", flat=True))
        if len(visible) != len(wanted):
            raise PermissionDenied
        return wanted, {"scope": "ids"}
    found = list(qs.order_by("pk").values_list("pk", flat=True)[: LIST_COUNT_CAP + 1])
    if len(found) > LIST_COUNT_CAP:
        raise ValidationError(_("More than %(n)d contacts: narrow the list first.") % {"n": LIST_COUNT_CAP})
    return found, selection


def bulk_draft(*, user, action: str, contact_ids: list[int], selection: dict[str, Any], next_url: str = "") -> BulkAction:
    """The preview's row: the action and the frozen selection, opened only by its author."""
    if not may(user, action):
        raise PermissionDenied
    BulkAction.objects.filter(status=BulkAction.Status.DRAFT, created_at__lt=timezone.now() - timedelta(days=DRAFT_DAYS)).delete()
    return BulkAction.objects.create(actor=user, action=action, contact_ids=list(contact_ids), selection=selection,
                                     next_url=next_url[:2000])


# --- Planning (the preview) and running ------------------------------------------------------

@dataclass
class Plan:
    """What an action with these parameters would do now: the contacts it changes and the rest by reason."""

    action: str
    selected: int
    todo: list[int] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    moving: int = 0  # set stage: how many of `todo` change stage (the others are pinned where they are)

    @property
    def skipped_rows(self) -> list[tuple[str, int]]:
        return [(skip_label(reason), n) for reason, n in self.skipped.most_common()]

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def bulk_plan(*, bulk: BulkAction, user, params: dict[str, Any]) -> Plan:
    """Which of the selected contacts the action would change with these parameters, and why the
    others would be skipped. Reads only (a few queries whatever the number of contacts).

    params: assign {"owner": User or None}, tag/untag {"tag": str}, stage {"stage": str},
    sequence {"sequence": Sequence}, erase {"mode": "anonymise"|"delete"} (mode optional in a preview)."""
    ids = list(bulk.contact_ids)
    plan = Plan(action=bulk.action, selected=len(ids))
    existing = set(Contact.objects.filter(pk__in=ids).values_list("pk", flat=True))
    editable = set(contacts_editable_by(user).filter(pk__in=ids).values_list("pk", flat=True))
    plan.skipped.update({"gone": len(set(ids) - existing), "not_editable": len(existing - editable)})
    candidates = [pk for pk in ids if pk in editable]
    refusals = _refusals(bulk.action, candidates, params)
    plan.skipped.update(refusals.values())
    plan.todo = [pk for pk in candidates if pk not in refusals]
    if bulk.action == STAGE:
        plan.moving = Contact.objects.filter(pk__in=plan.todo).exclude(stage=params["stage"]).count()
    plan.skipped = Counter({reason: n for reason, n in plan.skipped.items() if n})
    return plan


def _refusals(action: str, ids: list[int], params: dict[str, Any]) -> dict[int, str]:
    contacts = Contact.objects.filter(pk__in=ids)
    if action == ASSIGN:
        owner = params.get("owner")
        same = contacts.filter(owner=owner) if owner is not None else contacts.filter(owner__isnull=True)
        return dict.fromkeys(same.values_list("pk", flat=True), "already_owner")
    if action in (TAG, UNTAG):
        tagged = set(Contact.tags.through.objects.filter(contact_id__in=ids, tag__name__iexact=params["tag"].strip())
                     .values_list("contact_id", flat=True))
        if action == TAG:
            return dict.fromkeys(tagged, "has_tag")
        return {pk: "no_tag" for pk in ids if pk not in tagged}
    if action == STAGE:
        return dict.fromkeys(contacts.filter(stage=params["stage"], stage_pinned=True).values_list("pk", flat=True), "at_stage")
    if action == SEQUENCE:
        return nurture_sequences.enrollment_refusals(sequence=params["sequence"], contact_ids=ids)
    if action == ERASE and params.get("mode") == "anonymise":
        return dict.fromkeys(contacts.filter(attributes__has_key=privacy.ANONYMISED_KEY).values_list("pk", flat=True),
                             "anonymised")
    return {}


def anonymised_count(bulk: BulkAction) -> int:
    """For the erase preview: how many of the selected contacts are anonymised already."""
    return Contact.objects.filter(pk__in=bulk.contact_ids, attributes__has_key=privacy.ANONYMISED_KEY).count()


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    ran: bool  # False: the action had run already (a second click or a resubmitted form)
    queued: bool = False  # True: a worker runs it (the preview page shows the result when it is done)


# Bigger selections, and erasures (each contact as on its privacy page, tens of milliseconds each), run on a
# worker rather than in the request; in the embedded default (eager Celery) that is still in-process, after commit.
INLINE_MAX = 2000
INLINE_ERASE_MAX = 100


def runs_in_background(bulk: BulkAction) -> bool:
    limit = INLINE_ERASE_MAX if bulk.action == ERASE else INLINE_MAX
    return len(bulk.contact_ids) > limit


def bulk_confirm(*, bulk: BulkAction, user, params: dict[str, Any], note: str = "") -> Outcome:
    """Confirm a previewed action: run it now (bulk_run) or, for a big selection or an erasure,
    claim it (draft → queued) and let a worker run it after commit. Either way it runs once."""
    if not may(user, bulk.action):
        raise PermissionDenied
    if not runs_in_background(bulk):
        return bulk_run(bulk=bulk, user=user, params=params, note=note)
    with transaction.atomic():
        claimed = BulkAction.objects.filter(pk=bulk.pk, actor=user, status=BulkAction.Status.DRAFT).update(
            status=BulkAction.Status.QUEUED, params=_stored(params), note=note[:200])
        if not claimed:
            bulk.refresh_from_db()
            return Outcome(result=bulk.result, ran=False, queued=bulk.status == BulkAction.Status.QUEUED)
        _queue(bulk.pk)
    bulk.refresh_from_db()
    return Outcome(result=bulk.result, ran=True, queued=bulk.status == BulkAction.Status.QUEUED)


def _queue(bulk_id: int) -> None:
    from crm.bulk.tasks import bulk_run_task

    transaction.on_commit(lambda: bulk_run_task.delay(bulk_id))


def bulk_run(*, bulk: BulkAction, user, params: dict[str, Any], note: str = "") -> Outcome:
    """Confirm and run now. The claim (draft → done) commits with the changes, so a failure
    leaves the preview to confirm again, and a second submission finds it done and gets the
    stored result instead of running it twice."""
    if not may(user, bulk.action):
        raise PermissionDenied
    return _execute(bulk, user, params, note, claim_from=BulkAction.Status.DRAFT)


def bulk_run_queued(*, bulk_id: int) -> bool:
    """A worker runs a confirmed (queued) action; a second delivery of the task finds it done.
    An actor who lost the role since, or a sequence deleted since, leaves everyone skipped."""
    bulk = BulkAction.objects.select_related("actor").filter(pk=bulk_id, status=BulkAction.Status.QUEUED).first()
    if bulk is None:
        return False
    params = _loaded(bulk.params)
    refused = None
    if not may(bulk.actor, bulk.action):
        refused = "not_allowed"
    elif bulk.action == SEQUENCE and params.get("sequence") is None:
        refused = "sequence_gone"
    if refused:
        result = {"selected": len(bulk.contact_ids), "done": 0, "skipped": {refused: len(bulk.contact_ids)}}
        return bool(BulkAction.objects.filter(pk=bulk.pk, status=BulkAction.Status.QUEUED).update(
            status=BulkAction.Status.DONE, done_at=timezone.now(), result=result))
    return _execute(bulk, bulk.actor, params, bulk.note, claim_from=BulkAction.Status.QUEUED).ran


def bulk_sweep(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Queue again the confirmed actions whose task was lost (Redis down at the time): beat, every few minutes.
    A run still in progress is safe to queue again: its claim lets one of them finish it."""
    ids = list(BulkAction.objects.filter(status=BulkAction.Status.QUEUED, done_at__isnull=True,
                                         created_at__lt=timezone.now() - older_than).values_list("pk", flat=True))
    for pk in ids:
        _queue(pk)
    return len(ids)


def _execute(bulk: BulkAction, user, params: dict[str, Any], note: str, *, claim_from: str) -> Outcome:
    with transaction.atomic():
        claimed = BulkAction.objects.filter(pk=bulk.pk, actor=user, status=claim_from).update(
            status=BulkAction.Status.DONE, done_at=timezone.now(), params=_stored(params))
        if not claimed:
            bulk.refresh_from_db()
            return Outcome(result=bulk.result, ran=False, queued=bulk.status == BulkAction.Status.QUEUED)
        plan = bulk_plan(bulk=bulk, user=user, params=params)
        done = _perform(bulk.action, plan, user, params, note)
        skipped = plan.skipped + Counter({reason: n for reason, n in done.skipped.items() if n})
        result = {"selected": plan.selected, "done": len(done.ids), "skipped": dict(skipped)}
        BulkAction.objects.filter(pk=bulk.pk).update(result=result)
        audit(user, _audit_action(bulk.action, params), object_type=Contact._meta.label_lower, what="bulk",
              bulk=bulk.pk, bulk_action=bulk.action, count=len(done.ids), selected=plan.selected, skipped=dict(skipped),
              params=_stored(params), **bulk.selection)
    bulk.refresh_from_db()
    return Outcome(result=result, ran=True)


def _loaded(stored: dict[str, Any]) -> dict[str, Any]:
    """_stored's ids back to objects (a deleted owner: unassign; a deleted sequence: None)."""
    from django.contrib.auth import get_user_model

    params = dict(stored)
    if "owner" in params:
        params["owner"] = get_user_model().objects.filter(pk=params["owner"]).first() if params["owner"] else None
    if "sequence" in params:
        params["sequence"] = Sequence.objects.filter(pk=params["sequence"]).first()
    return params


@dataclass
class _Done:
    ids: list[int]
    skipped: Counter = field(default_factory=Counter)


def _perform(action: str, plan: Plan, user, params: dict[str, Any], note: str) -> _Done:
    ids = plan.todo
    if not ids:
        return _Done([])
    if action == ASSIGN:
        contact_services.contacts_assign_owner(contact_ids=ids, owner=params.get("owner"), by=user)
    elif action == TAG:
        contact_services.contacts_add_tag(contact_ids=ids, name=params["tag"], by=user)
    elif action == UNTAG:
        contact_services.contacts_remove_tag(contact_ids=ids, name=params["tag"], by=user)
    elif action == STAGE:
        contact_services.contacts_set_stage(contact_ids=ids, stage=params["stage"], by=user, note=note)
    elif action == SEQUENCE:
        enrolled, refusals = nurture_sequences.enrollments_add(sequence=params["sequence"], contact_ids=ids, by=user)
        return _Done(enrolled, Counter(refusals.values()))
    elif action == ERASE:
        erased, skipped = privacy.contacts_erase(contact_ids=ids, by=user, mode=params["mode"], reason="bulk")
        return _Done(erased, Counter({"anonymised": len(skipped)}))
    return _Done(ids)


def _audit_action(action: str, params: dict[str, Any]) -> str:
    if action == ERASE:
        return AuditEvent.Action.DELETE if params.get("mode") == "delete" else AuditEvent.Action.ANONYMISE
    return AuditEvent.Action.CHANGE


def _stored(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as ids and codes (the audit row and the BulkAction keep no objects)."""
    stored = {}
    for key, value in params.items():
        if key in ("owner", "sequence"):
            stored[key] = value.pk if value is not None else None
        elif value not in (None, ""):
            stored[key] = value
    return stored


def result_words(action: str, result: dict[str, Any]) -> str:
    """A stored result in the reader's language: "Set stage: 30 contacts changed; 7 skipped (…)"."""
    text = _("%(action)s: %(n)s of %(selected)s contacts done.") % {
        "action": action_label(action), "n": result.get("done", 0), "selected": result.get("selected", 0)}
    skipped = result.get("skipped") or {}
    if skipped:
        reasons = "; ".join(f"{skip_label(reason)}: {n}" for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1]))
        text += " " + _("Skipped %(n)s: %(reasons)s.") % {"n": sum(skipped.values()), "reasons": reasons}
    return text


def sequences_for_bulk():
    """The sequences a contact can be added to by hand (paused ones are listed, and skip everyone)."""
    return Sequence.objects.order_by("name", "pk")

