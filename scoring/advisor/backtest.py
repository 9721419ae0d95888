"""Backtests: how well a version's scores and stages would have predicted known outcomes.

Every contact is scored by the real engine "as of" the moment it is judged (see
scoring.outcomes), so what is measured is exactly what publishing the version would
do. Two versions can be compared on the same contacts. The statistics are pure
functions; `backtest_start` / `backtest_run` store them in a Backtest row.

Result shapes (JSON in Backtest.results, also what a page renders):

    backtest results = {
        "outcome": "conversion", "kinds": ["purchase", ...],
        "period": {"start": iso | None, "end": iso},
        "contacts": 1234, "conversions": 140, "base_rate": 0.113,
        "versions": [report, report?],   # the backtested version first, then the comparison
    }
    report = {
        "version_id": 7, "number": 3, "status": "draft", "name": "E-commerce v3 (Draft)",
        "thresholds": {"lead": 15, "prospect": 45},
        "auc": 0.78,                      # None when only one class is present
        "score": {"min": -10, "max": 80, "mean": 12.5},
        "deciles": [{"decile": 1, "contacts": 124, "conversions": 60, "rate": 0.48, "lift": 4.3,
                     "min_score": 40, "max_score": 80}, ...],   # 1 = highest scores; ties share a decile,
                                                                # so with many ties some deciles are absent
        "top_decile_lift": 4.3,
        "stages": {"lead": {"contacts": 300, "conversions": 100, "precision": 0.33, "recall": 0.71, "lift": 2.9},
                   "prospect": {...}},    # "lead" counts everyone at lead or beyond
        "stage_sizes": {"contact": 900, "lead": 250, "prospect": 50, "customer": 0},
    }
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.replica import reads_from_replica
from crm.texts import texts_render
from scoring import engine
from scoring.models import Backtest, RuleSetVersion
from scoring.outcomes import (
    Observation,
    observations_iter,
    outcome_kinds,
    outcome_queryset,
    period_parse,
)
from scoring.selectors import version_to_engine

log = logging.getLogger(__name__)

JUDGED_STAGES = ("lead", "prospect")
ProgressFn = Callable[[float], None]


# --- Pure statistics ---------------------------------------------------------------

def _midranks(values: Sequence[float]) -> list[float]:
    """1-based ranks in ascending order; tied values share the average of their ranks."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney): the chance that a random converter
    outscores a random non-converter, ties counting half. None without both classes."""
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    ranks = _midranks(scores)
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _lift(rate: float | None, base_rate: float | None) -> float | None:
    return rate / base_rate if rate is not None and base_rate else None


def deciles(scores: Sequence[float], labels: Sequence[bool]) -> list[dict[str, Any]]:
    """Conversion rate per score decile, 1 = the highest scores. Tied scores share a
    decile (the one where their run of equal scores starts), so the table never depends
    on the order of rows; with heavy ties some deciles are empty and left out."""
    n = len(scores)
    if not n:
        return []
    base_rate = sum(labels) / n
    order = sorted(range(n), key=lambda i: -scores[i])
    groups: dict[int, list[int]] = {}
    start = 0
    for position, index in enumerate(order):
        if position and scores[index] != scores[order[position - 1]]:
            start = position
        groups.setdefault(min(9, start * 10 // n) + 1, []).append(index)
    table = []
    for decile in sorted(groups):
        members = groups[decile]
        conversions = sum(1 for i in members if labels[i])
        rate = conversions / len(members)
        table.append({
            "decile": decile, "contacts": len(members), "conversions": conversions, "rate": rate,
            "lift": _lift(rate, base_rate), "min_score": min(scores[i] for i in members),
            "max_score": max(scores[i] for i in members),
        })
    return table


def stage_metrics(stages: Sequence[str], labels: Sequence[bool]) -> dict[str, dict[str, Any]]:
    """Precision and recall of "at this stage or beyond" for lead and prospect."""
    positives = sum(labels)
    base_rate = _rate(positives, len(labels))
    metrics = {}
    for stage in JUDGED_STAGES:
        rank = engine.STAGES.index(stage)
        chosen = [y for s, y in zip(stages, labels, strict=True) if engine.STAGES.index(s) >= rank]
        hits = sum(chosen)
        precision = _rate(hits, len(chosen))
        metrics[stage] = {
            "contacts": len(chosen), "conversions": hits, "precision": precision,
            "recall": _rate(hits, positives), "lift": _lift(precision, base_rate),
        }
    return metrics


def report(scores: Sequence[float], stages: Sequence[str], labels: Sequence[bool]) -> dict[str, Any]:
    """Everything a backtest shows for one version, from its scores and stages."""
    table = deciles(scores, labels)
    sizes = Counter(stages)
    return {
        "auc": auc(scores, labels),
        "score": {
            "min": min(scores, default=None), "max": max(scores, default=None),
            "mean": sum(scores) / len(scores) if scores else None,
        },
        "deciles": table,
        "top_decile_lift": table[0]["lift"] if table else None,
        "stages": stage_metrics(stages, labels),
        "stage_sizes": {stage: sizes.get(stage, 0) for stage in engine.STAGES},
    }


# --- Scoring observations with the engine ----------------------------------------------

def evaluate(ruleset: engine.RuleSet, observations: Iterable[Observation]) -> list[engine.Result]:
    """The engine's verdict on each contact as of its own judging moment."""
    return [engine.evaluate(ruleset, o.facts, o.as_of) for o in observations]


@dataclass
class _Scores:
    version: RuleSetVersion
    ruleset: engine.RuleSet
    scores: list[int] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)

    def add(self, observations: Sequence[Observation]) -> None:
        for result in evaluate(self.ruleset, observations):
            self.scores.append(result.score)
            self.stages.append(result.stage)

    def report(self, labels: Sequence[bool]) -> dict[str, Any]:
        return {
            "version_id": self.version.pk, "number": self.version.number, "status": self.version.status,
            "name": str(self.version),
            "thresholds": {"lead": self.ruleset.policy.lead_threshold, "prospect": self.ruleset.policy.prospect_threshold},
            **report(self.scores, self.stages, labels),
        }


def needs_data(rulesets: Iterable[engine.RuleSet]) -> bool:
    """Whether the interactions' JSON data must be loaded (some rule has a condition on it)."""
    return any(rule.condition for ruleset in rulesets for rule in ruleset.interaction_rules)


def compare(versions: Sequence[RuleSetVersion], observations: Sequence[Observation]) -> dict[str, Any]:
    """Side-by-side reports of several versions on the same observations (already loaded,
    with interaction data when needs_data() says a version's rules look at it)."""
    scored = [_Scores(v, version_to_engine(v)) for v in versions]
    for s in scored:
        s.add(observations)
    labels = [o.converted for o in observations]
    conversions = sum(labels)
    return {
        "contacts": len(labels), "conversions": conversions, "base_rate": _rate(conversions, len(labels)),
        "versions": [s.report(labels) for s in scored],
    }


# --- Stored runs ------------------------------------------------------------------------

def _compare_id(params: dict[str, Any]) -> int | None:
    value = params.get("compare_to")
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({"compare_to": _("Choose a version to compare with.")}) from None


def backtest_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Validated, JSON-ready backtest parameters. The period's end is fixed now, so a
    run repeated later (or redelivered) judges the same contacts the same way."""
    params = dict(params or {})
    outcome = str(params.get("outcome") or "conversion").strip()
    outcome_kinds(outcome)
    period = period_parse(params.get("start"), params.get("end"))
    compare_to = _compare_id(params)
    if compare_to is not None and not RuleSetVersion.objects.filter(pk=compare_to).exists():
        raise ValidationError({"compare_to": _("That version does not exist.")})
    return {"outcome": outcome, **period.as_json(), "compare_to": compare_to}


def backtest_start(version: RuleSetVersion, by, params: dict[str, Any] | None = None) -> Backtest:
    """Queue a backtest of `version` (draft or published), optionally beside another version.

    params: outcome ("conversion" or an interaction kind), start / end (dates or ISO
    datetimes; end defaults to now), compare_to (a version id). Raises ValidationError
    naming the bad parameter. The results land in the returned row (see the module doc)."""
    clean = backtest_params(params)
    with transaction.atomic():
        backtest = Backtest.objects.create(version=version, kind="backtest", params=clean, created_by=by)
        transaction.on_commit(lambda: queue_run("backtest_task", backtest.pk))
    return backtest


def queue_run(task_name: str, backtest_id: int) -> None:
    """Send a stored run to the workers (the task module is imported late: it imports us)."""
    from scoring.advisor import tasks as tasks_advisor

    getattr(tasks_advisor, task_name).delay(backtest_id)


def run_tracked(backtest_id: int, kind: str, work: Callable[[Backtest, ProgressFn], dict[str, Any]]) -> Backtest | None:
    """Run `work` for a stored run: claim it, report progress, store results or the failure.

    A run that is already done is left alone, so a redelivered task is harmless; a run
    left "running" by a dead worker is simply run again (the work recomputes everything)."""
    claimed = Backtest.objects.filter(pk=backtest_id, kind=kind).exclude(status=Backtest.Status.DONE).update(
        status=Backtest.Status.RUNNING, progress=0, message="", message_parts=[],
    )
    backtest = Backtest.objects.select_related("version__ruleset").filter(pk=backtest_id).first()
    if not claimed or backtest is None:
        return backtest

    def progress(percent: float) -> None:
        Backtest.objects.filter(pk=backtest_id).update(progress=max(0, min(99, int(percent))))

    try:
        results = work(backtest, progress)
    except ValidationError as exc:
        # Kept as message ids and parameters where the error was raised so (gettext_noop and params):
        # the run's page reads them in the viewer's language.
        errors = exc.error_list if hasattr(exc, "error_list") else [e for es in exc.error_dict.values() for e in es]
        _finish(backtest, Backtest.Status.FAILED, parts=[[str(e.message), e.params or {}] for e in errors])
        return backtest
    except Exception:
        log.exception("%s %s failed", kind, backtest_id)
        _finish(backtest, Backtest.Status.FAILED,
                parts=[[gettext_noop("The run failed unexpectedly; the error is in the worker log."), {}]])
        raise
    _finish(backtest, Backtest.Status.DONE, results=results)
    return backtest


def _finish(backtest: Backtest, status: str, *, results: dict[str, Any] | None = None, parts: list | None = None) -> None:
    backtest.message_parts = parts or []
    backtest.status, backtest.message, backtest.finished_at = status, texts_render(backtest.message_parts), timezone.now()
    backtest.progress = 100 if status == Backtest.Status.DONE else backtest.progress
    fields = ["status", "message", "message_parts", "finished_at", "progress"]
    if results is not None:
        backtest.results = results
        fields.append("results")
    backtest.save(update_fields=fields)


def _backtest_work(backtest: Backtest, progress: ProgressFn) -> dict[str, Any]:
    params = backtest.params
    kinds = outcome_kinds(params.get("outcome") or "conversion")
    period = period_parse(params.get("start"), params.get("end"))
    versions = [backtest.version]
    if (other_id := _compare_id(params)) is not None:
        other = RuleSetVersion.objects.filter(pk=other_id).first()
        if other is None:
            raise ValidationError(gettext_noop("The version to compare with was deleted."))
        versions.append(other)
    scored = [_Scores(v, version_to_engine(v)) for v in versions]
    queryset = outcome_queryset(backtest.version, period)
    # The outcomes are read on the replica, if there is one (crm.replica): the rules above come
    # from the primary, and the progress writes go there.
    with reads_from_replica():
        total, read, labels = queryset.count(), 0, []
        # One streaming pass: only scores, stages and labels are kept, not every contact's facts.
        for count, batch in observations_iter(queryset, kinds=kinds, period=period,
                                              with_data=needs_data(s.ruleset for s in scored)):
            for s in scored:
                s.add(batch)
            labels.extend(o.converted for o in batch)
            read += count
            progress(100 * read / max(total, 1))
    if not labels:
        raise ValidationError(gettext_noop("No contact with a known outcome in this period."))
    conversions = sum(labels)
    return {
        "outcome": params.get("outcome") or "conversion", "kinds": sorted(kinds), "period": period.as_json(),
        "contacts": len(labels), "conversions": conversions, "base_rate": conversions / len(labels),
        "versions": [s.report(labels) for s in scored],
    }


def backtest_run(*, backtest_id: int) -> Backtest | None:
    """Compute and store a queued backtest (what backtest_task calls)."""
    return run_tracked(backtest_id, "backtest", _backtest_work)


def backtests_for(version: RuleSetVersion, *, kind: str | None = None, limit: int = 10) -> list[Backtest]:
    """The latest runs stored with a version (newest first), for its page."""
    runs = version.backtests.select_related("created_by")
    return list((runs.filter(kind=kind) if kind else runs)[:limit])


def backtest_status_json(backtest: Backtest) -> dict[str, Any]:
    """What a page polls while a run is under way (results are read once it is done)."""
    return {
        "id": backtest.pk, "kind": backtest.kind, "version_id": backtest.version_id, "status": backtest.status,
        "progress": backtest.progress, "message": backtest.text,
        "finished_at": backtest.finished_at.isoformat() if backtest.finished_at else None,
    }


# --- Plain-text rendering (management commands) ------------------------------------------

def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def report_lines(results: dict[str, Any]) -> list[str]:
    """A backtest's results (or an advisor's holdout backtest) as lines of text."""
    lines = [
        _("%(contacts)d contacts, %(conversions)d converted (base rate %(rate)s).") % {
            "contacts": results["contacts"], "conversions": results["conversions"], "rate": _pct(results["base_rate"]),
        }
    ]
    for version in results["versions"]:
        auc_value = "–" if version["auc"] is None else f"{version['auc']:.3f}"
        lines.append(_("%(name)s: AUC %(auc)s, top-decile lift %(lift)s, thresholds lead %(lead)s / prospect %(prospect)s") % {
            "name": version["name"], "auc": auc_value,
            "lift": "–" if version["top_decile_lift"] is None else f"{version['top_decile_lift']:.2f}",
            "lead": version["thresholds"]["lead"], "prospect": version["thresholds"]["prospect"],
        })
        for stage, m in version["stages"].items():
            lines.append("    " + _("%(stage)s or beyond: %(n)d contacts, precision %(precision)s, recall %(recall)s") % {
                "stage": stage, "n": m["contacts"], "precision": _pct(m["precision"]), "recall": _pct(m["recall"]),
            })
        lines.append("    " + _("conversion rate per decile: %(rates)s") % {
            "rates": "  ".join(f"{d['decile']}:{_pct(d['rate'])}" for d in version["deciles"]),
        })
    return lines
