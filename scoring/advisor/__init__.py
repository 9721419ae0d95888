"""The rule advisor, as a run: check the parameters, start a run on a rule set's draft, and (in the
worker) load the contacts with a known outcome, split them 70/30, ask scoring.advisor.stats for a
suggestion learned on the 70 %, write it into the draft and backtest it on the 30 % beside the active
version. The method, and the shape of the stored results, are in docs/decisions.md ("The rule advisor")."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.audit import audit
from crm.replica import reads_from_replica
from crm.texts import text_render
from scoring.advisor import thresholds
from scoring.advisor.backtest import ProgressFn, compare, evaluate, needs_data, queue_run, run_tracked
from scoring.models import Backtest, Rule, RuleSet, RuleSetVersion
from scoring.outcomes import observations_load, outcome_kinds, outcome_queryset, period_parse
from scoring.rulesets import rule_validate, version_draft
from scoring.selectors import version_to_engine

if TYPE_CHECKING:
    from scoring.advisor.stats import Evidence, Suggestion

DEFAULTS: dict[str, Any] = {
    "outcome": "conversion",
    "start": None,
    "end": None,
    "capacity_share": None,  # prospects the team can follow up, as a share of new contacts (None: the default)
    "capacity_per_week": None,  # ... or as prospects a week (divided by the new contacts a week)
    "min_lift": thresholds.MIN_LIFT,  # prospects convert at least this many times the base rate
    "target_precision": None,  # optional: prospects also convert at least this often
    "lead_recall": thresholds.LEAD_RECALL,  # leads and prospects hold this share of the conversions
    "min_support": 30,  # contacts a candidate needs on the learning split (and without it)
    "seed": 7,
    "train_fraction": 0.7,
    "bins": 5,  # quantile steps per numeric column
    "max_categories": 30,  # per column, the most frequent first
    "shrinkage": 10.0,  # L2 penalty = a normal prior of variance 1/shrinkage on each rule's log-odds
    "points_per_logodds": 10,
    "max_occurrences": 3,  # cap of suggested interaction rules
    "exclude": [],  # columns never to use, e.g. ["duration"] (known only after the outcome)
}


# --- Parameters, the stored run, the draft ----------------------------------------------

def _number_param(params: dict[str, Any], name: str, kind: type, low: float, high: float) -> Any:
    try:
        value = kind(params[name])
    except (TypeError, ValueError):
        raise ValidationError({name: _("Enter a number.")}) from None
    if not low <= value <= high:
        raise ValidationError({name: _("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}})
    return value


def advisor_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults filled in and checked; the period's end is fixed now so a rerun repeats the run."""
    clean = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if k in DEFAULTS and v is not None}}
    clean["outcome"] = str(clean["outcome"]).strip()
    outcome_kinds(clean["outcome"])
    clean.update(period_parse(clean["start"], clean["end"]).as_json())
    for name, kind, low, high in (("capacity_share", float, 0.001, 1.0), ("capacity_per_week", int, 1, 10**6),
                                  ("target_precision", float, 0.01, 1.0)):
        clean[name] = None if clean[name] in (None, "") else _number_param(clean, name, kind, low, high)
    if clean["capacity_share"] is not None and clean["capacity_per_week"] is not None:
        raise ValidationError({"capacity_share": _("Give the capacity per week or as a share of new contacts, not both.")})
    clean["min_lift"] = _number_param(clean, "min_lift", float, 0.0, 100.0)
    clean["lead_recall"] = _number_param(clean, "lead_recall", float, 0.5, 1.0)
    clean["min_support"] = _number_param(clean, "min_support", int, 1, 10**6)
    clean["seed"] = _number_param(clean, "seed", int, 0, 2**31)
    clean["train_fraction"] = _number_param(clean, "train_fraction", float, 0.1, 0.95)
    clean["bins"] = _number_param(clean, "bins", int, 2, 50)
    clean["max_categories"] = _number_param(clean, "max_categories", int, 1, 500)
    clean["shrinkage"] = _number_param(clean, "shrinkage", float, 0.0, 10**6)
    clean["points_per_logodds"] = _number_param(clean, "points_per_logodds", float, 1, 1000)
    clean["max_occurrences"] = _number_param(clean, "max_occurrences", int, 0, 100)
    exclude = clean["exclude"]
    clean["exclude"] = [e.strip() for e in (exclude.split(",") if isinstance(exclude, str) else exclude) if str(e).strip()]
    return clean


def advisor_start(ruleset: RuleSet, by, params: dict[str, Any] | None = None, *, queue: bool = True) -> Backtest:
    """Create the advisor run on the rule set's draft (made now if there is none) and queue it.

    params: see DEFAULTS (outcome, start, end, capacity_share, capacity_per_week, min_lift,
    target_precision, lead_recall, min_support,
    seed, train_fraction, bins, max_categories, shrinkage, points_per_logodds,
    max_occurrences, exclude). Raises ValidationError naming the bad parameter. When it
    runs, the draft's rules are replaced by the suggestion (see docs/decisions.md for the
    results). queue=False leaves running it to the caller (advisor_run), e.g. a command."""
    clean = advisor_params(params)
    with transaction.atomic():
        draft = version_draft(ruleset=ruleset, by=by)
        backtest = Backtest.objects.create(version=draft, kind="advisor", params=clean, created_by=by)
        if queue:
            transaction.on_commit(lambda: queue_run("advise_task", backtest.pk))
    return backtest


def advisor_run(*, backtest_id: int) -> Backtest | None:
    """Learn, write the draft and backtest it (what advise_task calls). Rerunning repeats it exactly."""
    return run_tracked(backtest_id, "advisor", _advise_work)


def _advise_work(backtest: Backtest, progress: ProgressFn) -> dict[str, Any]:
    # Imported here, in the worker: numpy stays out of every web process's URL configuration.
    from scoring.advisor import stats

    options = {**DEFAULTS, **backtest.params}
    version = backtest.version
    if not RuleSetVersion.objects.filter(pk=version.pk, status=RuleSetVersion.Status.DRAFT).exists():
        raise ValidationError(gettext_noop("The draft was published or deleted before the advisor ran; start the advisor again."))
    kinds = outcome_kinds(options["outcome"])
    period = period_parse(options["start"], options["end"])
    active = version.ruleset.active_version
    versions = [version] + ([active] if active is not None and active.pk != version.pk else [])
    with_data = needs_data(version_to_engine(v) for v in versions[1:])
    # The outcomes are read on the replica, if there is one (crm.replica); the draft's rules,
    # written just before, and everything after draft_write come from the primary.
    with reads_from_replica():
        observations = observations_load(
            outcome_queryset(version, period), kinds=kinds, period=period,
            # The suggestion never looks at interaction data; the active version it is compared with may.
            with_data=with_data,
            on_progress=lambda read, total: progress(60 * read / max(total, 1)),
        )
    train_ids, _test_ids = stats.split_ids((o.contact_id for o in observations), seed=int(options["seed"]),
                                     train_fraction=float(options["train_fraction"]))
    train = [o for o in observations if o.contact_id in train_ids]
    test = [o for o in observations if o.contact_id not in train_ids]
    if sum(o.converted for o in observations) < 2 or not test:
        raise ValidationError(gettext_noop("Too few contacts with a known outcome to learn from (%(n)d)."),
                              params={"n": len(observations)})
    weekly_new = None
    if options.get("capacity_per_week") is not None:
        weeks = thresholds.INTAKE_WEEKS
        recent = outcome_queryset(version, period).filter(created_at__gt=period.end - timedelta(weeks=weeks))
        with reads_from_replica():
            weekly_new = recent.count() / weeks
    policy = version_to_engine(version).policy
    suggestion = stats.suggest(train, policy=policy, options=options, outcome_kinds=kinds,
                         industry=version.ruleset.industry, weekly_new=weekly_new)
    progress(75)
    draft_write(version=version, suggestion=suggestion, kinds=kinds, backtest=backtest)
    progress(85)
    version.refresh_from_db()
    # The trade-off of every threshold on the held-out 30 %, scored by the engine as published.
    held = evaluate(version_to_engine(version), test)
    eligible = [stats.has_intent(o, policy) for o in test] if suggestion.prospect_requires_intent else None
    curve = thresholds.tradeoff([r.score for r in held], [o.converted for o in test], eligible)
    marks = [suggestion.thresholds["prospect"]["threshold"], suggestion.thresholds["lead"]["threshold"]]
    test_conversions = sum(o.converted for o in test)
    return {
        "outcome": options["outcome"], "kinds": sorted(kinds), "period": period.as_json(),
        "split": {
            "seed": int(options["seed"]), "train_fraction": float(options["train_fraction"]),
            "train": len(train), "test": len(test),
            "train_conversions": sum(o.converted for o in train), "test_conversions": test_conversions,
        },
        "evidence": [e.as_json() for e in suggestion.evidence],
        "rules": len(suggestion.rules),
        "thresholds": suggestion.thresholds,
        "prospect_requires_intent": suggestion.prospect_requires_intent,
        "capacity": suggestion.capacity,
        "tradeoff": {
            "points": [p.as_json() for p in thresholds.thin(curve)],
            "table": [p.as_json() for p in thresholds.table_points(curve, marks)],
        },
        "few_conversions": thresholds.few_conversions(test_conversions),
        "excluded": suggestion.excluded,
        "fit": suggestion.fit,
        "notes": suggestion.notes,
        "backtest": compare(versions, test),  # the draft (refreshed above), then the active version
    }


@transaction.atomic
def draft_write(*, version: RuleSetVersion, suggestion: Suggestion, kinds: frozenset[str], backtest: Backtest | None = None) -> int:
    """Replace the draft's rules and thresholds by the suggestion; returns the rules written.

    The draft row is locked, so two runs (a redelivered task) cannot interleave their
    rules; the second simply replaces the first's with the same ones."""
    version = RuleSetVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError(gettext_noop("Only a draft can receive suggested rules."))
    rules = [_rule_for(version, position, e) for position, e in enumerate(suggestion.rules)]
    for rule in rules:
        rule_validate(rule)
    version.rules.all().delete()
    Rule.objects.bulk_create(rules)
    prospect = suggestion.thresholds["prospect"]["threshold"]
    lead = suggestion.thresholds["lead"]["threshold"]
    if prospect is not None and lead is not None:
        version.lead_threshold, version.prospect_threshold = lead, prospect
    version.prospect_requires_intent = suggestion.prospect_requires_intent
    version.note_message = gettext_noop("Suggested by the rule advisor (run #%(run)s)")
    version.note_params = {"run": backtest.pk if backtest else "–"}
    version.note = text_render(version.note_message, version.note_params)[:300]
    version.save(update_fields=["lead_threshold", "prospect_threshold", "prospect_requires_intent", "note", "note_message",
                                "note_params"])
    if not version.conversion_kinds.exists():
        version.conversion_kinds.set(sorted(kinds))
    audit(backtest.created_by if backtest else None, "change", version, what="advisor_rules",
          backtest=backtest.pk if backtest else None, rules=len(rules))
    return len(rules)


def _rule_for(version: RuleSetVersion, position: int, evidence: Evidence) -> Rule:
    c = evidence.candidate
    stored = evidence.label_text()  # read in the viewer's language, its numbers in their format
    common = {"version": version, "position": position, "type": c.type, "label": evidence.label(), "points": float(evidence.points),
              "label_message": stored["message"], "label_params": stored["params"]}
    if c.type == Rule.Type.INTERACTION:
        return Rule(**common, interaction_kind_id=c.kind, window_days=c.window_days, max_occurrences=c.max_occurrences)
    return Rule(**common, field=c.field, operator=c.operator, value=c.value)
