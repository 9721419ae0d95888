"""Rule sets: drafts and their rules (validated, naming the field), policy, publish and
rollback (a rescore follows, queued after commit), the preview of a publish, and playbooks.
Every write here audits itself, so a page, the API and a command are recorded alike."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contacts.catalog import catalog_ensure
from contacts.events import stage_changes_recorded
from contacts.fields import types as custom_types
from contacts.models import Contact, InteractionKind, Stage, StageChange
from crm.audit import audit
from crm.texts import text_render
from scoring import engine
from scoring.models import Rule, RuleSet, RuleSetVersion
from scoring.playbooks import PLAYBOOKS, A
from scoring.selectors import (
    iter_contact_facts,
    scope_filter,
    single_ruleset,
)
from scoring.tasks import rescore_all_task

log = logging.getLogger(__name__)



# --- Rule sets: draft, validate, preview, publish --------------------------------

def rule_validate(rule: Rule) -> None:
    """Refuse unknown fields, wrong value types and incomplete rules, naming the field."""
    errors: dict[str, str] = {}
    if rule.type == Rule.Type.INTERACTION:
        if not rule.interaction_kind_id:
            errors["interaction_kind"] = _("Choose the interaction kind this rule counts.")
        if bool(rule.field) != bool(rule.operator):
            errors["operator" if rule.field else "field"] = _("A data condition needs both a key and an operator.")
    elif not rule.field or not rule.operator:
        errors["field" if not rule.field else "operator"] = _("An attribute rule needs a field and an operator.")
    if rule.field and rule.operator:
        # A custom field's own type speaks first ("Plan is a choice field; use one of: …").
        custom = _custom_field_problem(rule) if rule.type == Rule.Type.ATTRIBUTE else None
        problems = [] if custom else engine.validate_condition(
            engine.Condition(rule.field, rule.operator, rule.value), for_attribute_rule=rule.type == Rule.Type.ATTRIBUTE,
        )
        if custom:
            errors[custom[0]] = custom[1]
        elif problems:
            errors[_condition_error_field(rule)] = " ".join(problems)
    if errors:
        raise ValidationError(errors)


def _custom_field_problem(rule: Rule) -> tuple[str, str] | None:
    """An attribute rule on a custom field: the operator must suit its type (RULE_OPERATORS) and the
    value must be one the field can hold (a number, a YYYY-MM-DD date, one of the choices)."""
    if not rule.field.startswith(engine.ATTRIBUTES_PREFIX):
        return None
    field = custom_types.active_by_key().get(rule.field[len(engine.ATTRIBUTES_PREFIX):])
    if field is None:
        return None
    allowed = custom_types.RULE_OPERATORS[field.type]
    if rule.operator not in allowed:
        return "operator", _("“%(label)s” is a %(type)s field; use one of: %(operators)s.") % {
            "label": field.label, "type": field.get_type_display().lower(), "operators": ", ".join(allowed)}
    if rule.operator in ("is_set", "is_blank") or rule.value is None:
        return None
    values = rule.value if isinstance(rule.value, list) else [rule.value]
    for value in values:
        try:
            typed = custom_types.coerce(field, value)
        except ValidationError as exc:
            return "value", " ".join(exc.messages)
        if typed != value and field.type == custom_types.Type.DATE:
            return "value", _("Give the date as YYYY-MM-DD.")
    return None


def _condition_error_field(rule: Rule) -> str:
    """Which form field a condition problem belongs to, so the message lands next to it."""
    if rule.operator not in engine.OPERATORS:
        return "operator"
    if rule.type == Rule.Type.ATTRIBUTE and rule.field not in engine.ATTRIBUTE_FIELDS and not (
        rule.field.startswith(engine.ATTRIBUTES_PREFIX) and len(rule.field) > len(engine.ATTRIBUTES_PREFIX)
    ):
        return "field"
    return "value"


@transaction.atomic
def version_draft(*, ruleset: RuleSet, by=None) -> RuleSetVersion:
    """The rule set's draft: the existing one, or a copy of the active version."""
    ruleset = RuleSet.objects.select_for_update().get(pk=ruleset.pk)
    if draft := ruleset.draft():
        return draft
    source = ruleset.active_version or ruleset.versions.order_by("-number").first()
    copied_from = ruleset.active_version_id
    number = (ruleset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    draft = RuleSetVersion.objects.create(
        ruleset=ruleset, number=number, status=RuleSetVersion.Status.DRAFT, created_by=by,
        **({name: getattr(source, name) for name in POLICY_FIELDS} if source else {}),
    )
    if source:
        _copy_rules(source, draft)
    audit(by, "create", draft, what="draft", copied_from=copied_from)
    return draft


POLICY_FIELDS = (
    "lead_threshold", "prospect_threshold", "prospect_requires_intent", "intent_window_days",
    "demote_after_days", "decay_half_life_days",
)


def threshold_errors(*, lead: int, prospect: int) -> dict[str, list[str]]:
    """The one check of a stage policy's thresholds: a prospect needs at least a lead's score."""
    return {"prospect_threshold": [_("Must be at least the lead threshold.")]} if prospect < lead else {}


def _copy_rules(source: RuleSetVersion, to: RuleSetVersion) -> None:
    """A version's rules and conversion kinds, copied onto another version (a new draft, a rollback)."""
    to.conversion_kinds.set(source.conversion_kinds.all())
    Rule.objects.bulk_create(
        Rule(version=to, **{f.name: getattr(r, f.name) for f in Rule._meta.concrete_fields if f.name not in ("id", "version")})
        for r in source.rules.all()
    )


class NotADraft(ValidationError):
    """The version was published (or discarded) while someone was editing it."""

    def __init__(self) -> None:
        super().__init__(_("This version is no longer a draft; nothing was changed."))


def _lock_draft(version_id: int) -> RuleSetVersion:
    """Inside a transaction: the version, locked, provided it is still a draft, so an
    edit racing a publish can never change a version that has become active."""
    version = RuleSetVersion.objects.select_for_update().get(pk=version_id)
    if not version.is_draft:
        raise NotADraft
    return version


@transaction.atomic
def version_policy_update(*, version: RuleSetVersion, values: dict[str, Any], conversion_kinds=None, by=None) -> RuleSetVersion:
    """Change a draft's stage policy (and note); conversion kinds when given."""
    locked = _lock_draft(version.pk)
    changed = sorted(k for k, v in values.items() if k in (*POLICY_FIELDS, "note") and getattr(locked, k) != v)
    for name in changed:
        setattr(locked, name, values[name])
    if "note" in changed:  # a person's note now: shown as typed
        locked.note_message, locked.note_params = "", {}
    if errors := threshold_errors(lead=locked.lead_threshold, prospect=locked.prospect_threshold):
        raise ValidationError(errors)
    locked.save()
    if conversion_kinds is not None:
        before = set(locked.conversion_kinds.values_list("pk", flat=True))
        locked.conversion_kinds.set(conversion_kinds)
        if before != set(locked.conversion_kinds.values_list("pk", flat=True)):
            changed.append("conversion_kinds")
    audit(by, "change", locked, what="policy", fields=changed)
    return locked


@transaction.atomic
def rule_save(*, version: RuleSetVersion, rule: Rule, by=None) -> Rule:
    """Add a rule to a draft, or save a changed rule of it, after validating it."""
    locked = _lock_draft(version.pk)
    created = rule.pk is None
    if created:
        rule.version = locked
        rule.position = (locked.rules.aggregate(n=Max("position"))["n"] or 0) + 1
        changed = ["type", "label", "points"]
    else:
        original = Rule.objects.get(pk=rule.pk)
        if original.version_id != locked.pk:
            raise NotADraft
        if rule.label != original.label:  # a person's label now: shown as typed, in every language
            rule.label_message, rule.label_params = "", {}
        changed = [f.name for f in Rule._meta.concrete_fields if getattr(original, f.attname) != getattr(rule, f.attname)]
    rule_validate(rule)
    rule.save()
    audit(by, "change", locked, what="rule_added" if created else "rule_changed", rule=rule.pk, fields=changed)
    return rule


@transaction.atomic
def rule_delete(*, rule: Rule, by=None) -> None:
    version = _lock_draft(rule.version_id)
    rule_id, label = rule.pk, rule.label
    rule.delete()
    audit(by, "change", version, what="rule_deleted", rule=rule_id, label=label)


def version_publish(*, version: RuleSetVersion, by=None, rescore: bool = True) -> RuleSetVersion:
    """Make a draft (or an older version, to roll back) the active one and rescore. The audit
    row is written here, so a publish from a page, the API or a command is recorded alike."""
    return _publish(version=version, by=by, rescore=rescore, return_moved=False).version


@dataclass(frozen=True)
class Published:
    version: RuleSetVersion
    returned: int | None  # contacts a rollback returned; None when it was not asked to


def version_rollback(*, version: RuleSetVersion, by=None, return_moved: bool = False) -> Published:
    """Publish an archived version again. With `return_moved`, the contacts the version rolled
    back from moved, and nothing moved since, go back to where they were (`rollback_returns`)."""
    if version.status != RuleSetVersion.Status.ARCHIVED:
        raise ValidationError({"version": _("Only an archived version can be published again.")})
    return _publish(version=version, by=by, rescore=True, return_moved=return_moved)


@transaction.atomic
def _publish(*, version: RuleSetVersion, by, rescore: bool, return_moved: bool) -> Published:
    version = RuleSetVersion.objects.select_for_update().get(pk=version.pk)
    ruleset = RuleSet.objects.select_for_update().get(pk=version.ruleset_id)
    for rule in version.rules.all():
        rule_validate(rule)
    if errors := threshold_errors(lead=version.lead_threshold, prospect=version.prospect_threshold):
        raise ValidationError(errors)
    rollback_of, previous = None, ruleset.active_version
    if version.status == RuleSetVersion.Status.ARCHIVED:
        # Rolling back: publish a copy so history stays linear and the old row stays as it was.
        rollback_of = version.pk
        version = _copy_as_published(version, by=by)
    RuleSetVersion.objects.filter(ruleset=ruleset, status=RuleSetVersion.Status.PUBLISHED).exclude(pk=version.pk).update(
        status=RuleSetVersion.Status.ARCHIVED
    )
    version.status = RuleSetVersion.Status.PUBLISHED
    version.published_at, version.published_by = timezone.now(), by
    version.save(update_fields=["status", "published_at", "published_by"])
    ruleset.active_version = version
    ruleset.save(update_fields=["active_version"])
    returned = _moves_return(rolled_back=previous, to=version, by=by) if return_moved and previous else None
    audit(by, "publish", version, ruleset=ruleset.pk, number=version.number,
          **({"rollback_of": rollback_of} if rollback_of else {}),
          **({"returned": returned} if returned is not None else {}))
    if rescore:
        transaction.on_commit(lambda: _queue_rescore_all(f"published {ruleset.name} v{version.number}", by, version))
    return Published(version, returned)


# What a rollback may undo: promotions and demotions by score. A conversion is a fact (a purchase happened)
# and a hand-set stage is a person's decision: neither is returned.
RETURNABLE_REASONS = (StageChange.Reason.LEAD, StageChange.Reason.PROSPECT, StageChange.Reason.DEMOTED_INACTIVE)


@dataclass(frozen=True)
class Return:
    contact_id: int
    stage: str  # where the contact is now
    to_stage: str  # where it was before the version moved it


def rollback_returns(*, version: RuleSetVersion | None) -> list[Return]:
    """The contacts `version` moved by score whose last moves are all its own (nothing moved them
    since) and that are not pinned, with the stage they had before its first move of that run."""
    if version is None:
        return []
    moved = StageChange.objects.filter(ruleset_version=version, reason_code__in=RETURNABLE_REASONS)
    contacts = dict(Contact.objects.filter(pk__in=moved.values("contact_id"), stage_pinned=False).values_list("pk", "stage"))
    history = (StageChange.objects.filter(contact_id__in=contacts).order_by("contact_id", "-changed_at", "-pk")
               .values_list("contact_id", "from_stage", "to_stage", "reason_code", "ruleset_version_id"))
    returns, walked = [], {}
    for contact_id, from_stage, to_stage, reason, version_id in history.iterator(chunk_size=5000):
        state = walked.setdefault(contact_id, {"open": to_stage == contacts[contact_id], "to": None})
        if not state["open"]:
            continue
        if version_id == version.pk and reason in RETURNABLE_REASONS:
            state["to"] = from_stage
        else:
            state["open"] = False
    for contact_id, state in walked.items():
        if state["to"] and state["to"] != contacts[contact_id]:
            returns.append(Return(contact_id, contacts[contact_id], state["to"]))
    return sorted(returns, key=lambda r: r.contact_id)


def _moves_return(*, rolled_back: RuleSetVersion, to: RuleSetVersion, by) -> int:
    """Put the contacts `rolled_back` moved back where they were, each with a stage change that
    says why; rows that moved or were pinned since the preview are left alone."""
    returns = {r.contact_id: r for r in rollback_returns(version=rolled_back)}
    now = timezone.now()
    current = dict(Contact.objects.select_for_update().filter(pk__in=returns, stage_pinned=False).values_list("pk", "stage"))
    moving = [r for r in returns.values() if current.get(r.contact_id) == r.stage]
    for (stage, to_stage) in {(r.stage, r.to_stage) for r in moving}:
        ids = [r.contact_id for r in moving if (r.stage, r.to_stage) == (stage, to_stage)]
        Contact.objects.filter(pk__in=ids).update(stage=to_stage, stage_changed_at=now, needs_rescore=True, updated_at=now)
    params = {"from_number": rolled_back.number, "to_number": to.number}
    changes = StageChange.objects.bulk_create(
        StageChange(contact_id=r.contact_id, from_stage=r.stage, to_stage=r.to_stage, changed_at=now,
                    reason_code=StageChange.Reason.ROLLED_BACK, reason_params=params, user=by, ruleset_version=to)
        for r in moving
    )
    stage_changes_recorded(changes)
    return len(changes)


def _copy_as_published(old: RuleSetVersion, *, by) -> RuleSetVersion:
    number = (old.ruleset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    new = RuleSetVersion.objects.create(
        ruleset=old.ruleset, number=number, status=RuleSetVersion.Status.ARCHIVED, created_by=by,
        note=text_render(gettext_noop("Rollback to v%(n)d"), {"n": old.number}), note_message=gettext_noop("Rollback to v%(n)d"),
        note_params={"n": old.number}, **{name: getattr(old, name) for name in POLICY_FIELDS},
    )
    _copy_rules(old, new)
    return new


def _queue_rescore_all(reason: str, by, version: RuleSetVersion) -> None:
    # On the embedded default (eager tasks) this creates the run and its chunks in the request; the chunks
    # then run on a thread of their own (scoring.rescoring._queue_chunks), so the publish returns at once.
    rescore_all_task.delay(reason=reason, user_id=getattr(by, "pk", None), version_id=version.pk)


@dataclass
class Preview:
    version: RuleSetVersion
    evaluated: int = 0
    transitions: Counter = field(default_factory=Counter)  # (from, to) -> count
    examples: list[dict[str, Any]] = field(default_factory=list)
    score_changes: int = 0

    @property
    def moves(self) -> list[tuple[str, str, int]]:
        return sorted(((a, b, n) for (a, b), n in self.transitions.items() if a != b),
                      key=lambda t: (Stage.order(t[0]), Stage.order(t[1])))

    @property
    def stage_totals(self) -> dict[str, dict[str, int]]:
        before, after = Counter(), Counter()
        for (a, b), n in self.transitions.items():
            before[a] += n
            after[b] += n
        return {s: {"before": before[s], "after": after[s]} for s in Stage.values}


def version_preview(*, version: RuleSetVersion, now: datetime | None = None, examples: int = 20,
                    stage_overrides: Mapping[int, str] | None = None) -> Preview:
    """What publishing this version would do, computed without writing anything. A contact in
    `stage_overrides` is evaluated as if it had just been put in that stage (a rollback's returns)."""
    now = now or timezone.now()
    stage_overrides = stage_overrides or {}
    rulesets = single_ruleset(version)
    ruleset = rulesets.by_industry[version.ruleset.industry]
    preview = Preview(version=version)
    labels = {rule.pk: rule for rule in version.rules.all()}  # each example's rules, in the reader's language
    queryset = Contact.objects.filter(objects_to_profiling=False, **scope_filter(version))
    for batch in iter_contact_facts(queryset, with_data=rulesets.needs_data):
        for row, facts in batch:
            if row["id"] in stage_overrides:
                facts = replace(facts, stage=stage_overrides[row["id"]], stage_changed_at=now)
            result = engine.evaluate(ruleset, facts, now)
            preview.evaluated += 1
            preview.transitions[(row["stage"], result.stage)] += 1
            if row["stage"] != result.stage and len(preview.examples) < examples:
                preview.examples.append({"contact_id": row["id"], "name": row["full_name"] or row["email"] or f"#{row['id']}",
                                         "from": row["stage"], "to": result.stage, "score": result.score, "result": result,
                                         "hits": [{"label": labels[h.rule_id].display_label if h.rule_id in labels else h.label,
                                                   "count": h.count, "touch_ids": h.touch_ids, "points": h.points}
                                                  for h in result.hits]})
    return preview


# --- Playbooks ---------------------------------------------------------------------

@transaction.atomic
def playbook_load(*, name: str, by=None, publish: bool = True) -> RuleSetVersion:
    """Load a built-in playbook into its rule set's draft (replacing the draft's rules);
    publish it unless asked to leave it as a draft for review."""
    if name not in PLAYBOOKS:
        raise ValidationError({"name": _("Unknown playbook “%(name)s”; choose one of %(names)s.") % {"name": name, "names": ", ".join(PLAYBOOKS)}})
    playbook = PLAYBOOKS[name]
    catalog_ensure()
    ruleset, _created = RuleSet.objects.get_or_create(industry=playbook.industry, defaults={"name": playbook.title})
    RuleSet.objects.filter(pk=ruleset.pk).update(playbook=name)
    draft = version_draft(ruleset=ruleset, by=by)
    draft.rules.all().delete()
    audit(by, "change", draft, what="playbook_loaded", playbook=name)
    for name_ in POLICY_FIELDS:
        setattr(draft, name_, getattr(playbook, name_))
    draft.note_message, draft.note_params = gettext_noop("Loaded from the %(name)s playbook"), {"name": name}
    draft.note = text_render(draft.note_message, draft.note_params)
    draft.save()
    draft.conversion_kinds.set(playbook.conversion_kinds)
    rules = []
    for position, spec in enumerate(playbook.rules):
        if isinstance(spec, A):
            rules.append(Rule(version=draft, position=position, type=Rule.Type.ATTRIBUTE, label=spec.label,
                              label_message=spec.label, points=spec.points,
                              field=spec.field, operator=spec.operator, value=spec.value))
        else:
            key, op, value = spec.condition or ("", "", None)
            rules.append(Rule(version=draft, position=position, type=Rule.Type.INTERACTION, label=spec.label,
                              label_message=spec.label, points=spec.points,
                              interaction_kind_id=spec.kind, window_days=spec.window_days,
                              max_occurrences=spec.max_occurrences, field=key, operator=op, value=value))
    for rule in rules:
        rule_validate(rule)
    Rule.objects.bulk_create(rules)
    return version_publish(version=draft, by=by) if publish else draft


# --- The rules API's write: a whole draft at once ---------------------------------------

@transaction.atomic
def draft_update(*, ruleset: RuleSet, data: Mapping[str, Any], by) -> RuleSetVersion:
    """Change the rule set's draft (made from the active version if there is none) through
    the draft services: policy fields as given, rules replaced when given. Everything is
    checked first, so one answer names every problem ("rules.2.value"); nothing is half-done."""
    draft = version_draft(ruleset=ruleset, by=by)
    errors = threshold_errors(lead=data.get("lead_threshold", draft.lead_threshold),
                              prospect=data.get("prospect_threshold", draft.prospect_threshold))
    kinds_named = set(data.get("conversion_kinds", [])) | {r.get("interaction_kind") for r in data.get("rules", [])}
    known = set(InteractionKind.objects.filter(slug__in=kinds_named - {None, ""}).values_list("slug", flat=True))
    for index, slug in enumerate(data.get("conversion_kinds", [])):
        if slug not in known:
            errors[f"conversion_kinds.{index}"] = [_("Unknown interaction kind “%(kind)s”.") % {"kind": slug}]
    rules = []
    for index, spec in enumerate(data.get("rules", [])):
        kind = spec.get("interaction_kind") or None
        if kind and spec["type"] == Rule.Type.ATTRIBUTE:
            errors[f"rules.{index}.interaction_kind"] = [_("Attribute rules have no interaction kind.")]
            continue
        if kind and kind not in known:
            errors[f"rules.{index}.interaction_kind"] = [_("Unknown interaction kind “%(kind)s”.") % {"kind": kind}]
            continue
        rule = Rule(type=spec["type"], label=spec["label"], points=spec["points"], interaction_kind_id=kind,
                    window_days=spec.get("window_days"), max_occurrences=spec.get("max_occurrences"),
                    field=spec.get("field", ""), operator=spec.get("operator", ""), value=spec.get("value"))
        try:
            rule_validate(rule)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors[f"rules.{index}.{name}"] = messages
        rules.append(rule)
    if errors:
        raise ValidationError(errors)
    policy = {name: data[name] for name in (*POLICY_FIELDS, "note") if name in data}
    if policy or "conversion_kinds" in data:
        kinds = InteractionKind.objects.filter(slug__in=data["conversion_kinds"]) if "conversion_kinds" in data else None
        draft = version_policy_update(version=draft, values=policy, conversion_kinds=kinds, by=by)
    if "rules" in data:
        for old in list(draft.rules.all()):
            rule_delete(rule=old, by=by)
        for rule in rules:  # rule_save numbers them in this order
            rule_save(version=draft, rule=rule, by=by)
    return draft
