"""Thin Celery tasks: arguments are ids, bodies call one service.

All of them are idempotent (they recompute, never increment a stored score), so
acks_late redelivery and retries are safe. Retries only on transient DB errors.

This module is how other apps reach scoring (contacts wakes the scorer through
pending_wake), and scoring.rescoring and scoring.rulesets queue these tasks; so the bodies import the
services when they run, and this module imports nothing of scoring at load time."""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from crm.retry import RETRY


# Acked on receipt, unlike the rest: with Redis, a task that holds its prefetch slot until it
# ends stops the worker from fetching until the next one-second poll (celery#4378, #7718),
# and that second was the p99 of event -> stage. Nothing is lost if a worker dies mid-run:
# the contacts stay marked needs_rescore, and the next event or the minute's sweep scores them.
@shared_task(acks_late=False, **RETRY)
def score_pending_task() -> int:
    from scoring.rescoring import rescore_pending

    return rescore_pending()


@shared_task(**RETRY)
def rescore_all_task(reason: str = "nightly", user_id: int | None = None, version_id: int | None = None) -> int:
    from scoring.rescoring import rescore_start

    return rescore_start(reason=reason, by=_user(user_id), version_id=version_id).pk


@shared_task(**RETRY)
def rescore_chunk_task(chunk_id: int, as_of: str | None = None) -> None:
    from datetime import datetime

    from scoring.rescoring import rescore_chunk

    rescore_chunk(chunk_id=chunk_id, now=datetime.fromisoformat(as_of) if as_of else None)


@shared_task(**RETRY)
def rescore_stale_task() -> int:
    from scoring.rescoring import rescore_stale

    return rescore_stale()


@shared_task(**RETRY)
def resume_rescore_runs_task() -> int:
    from scoring.rescoring import rescore_resume

    return rescore_resume()


def _user(user_id: int | None):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id).first() if user_id else None


PENDING_WAKE_KEY = "scoring:pending-wake"


def pending_wake() -> None:
    """Queue one rescore_pending run unless one is queued already: a burst of 200 events
    a second becomes a few bulk runs instead of 200 one-contact tasks."""
    if cache.add(PENDING_WAKE_KEY, 1, timeout=settings.CRM_PENDING_WAKE_SECONDS):
        score_pending_task.delay()


# --- What contacts may ask of scoring (contacts knows scoring only through this module) ---

def new_contacts_score(contacts, *, now):
    """Score unsaved new contacts on their fields (an import's new people); see scoring.rescoring."""
    from scoring.rescoring import new_contacts_score as score

    return score(contacts, now=now)


def new_contacts_record_moves(moves, *, now) -> None:
    """Record the stage moves new_contacts_score found, once the contacts have ids."""
    from scoring.rescoring import new_contacts_record_moves as record

    record(moves, now=now)


def rescore_ranges(ranges) -> int:
    """Score every contact in the given [first id, last id] ranges now, in this process (one
    transaction per range); returns how many were scored."""
    from django.db import transaction

    from scoring.rescoring import rescore_range
    from scoring.selectors import active_rulesets

    rulesets = active_rulesets()
    scored = 0
    for lo, hi in ranges:
        # One transaction per range: on SQLite each autocommitted UPDATE would wait for its own fsync.
        with transaction.atomic():
            scored += rescore_range(first_id=lo, last_id=hi, rulesets=rulesets).scored
    return scored


def published_since(when) -> bool:
    """Whether a rule-set version was published at or after `when`."""
    from scoring.models import RuleSetVersion

    return RuleSetVersion.objects.filter(published_at__gte=when).exists()



def outcome_conversion_kinds() -> dict[str, str]:
    """Industry -> the conversion kind an import's outcome column logs (scoring.selectors)."""
    from scoring.selectors import outcome_conversion_kinds as kinds

    return kinds()


def kinds_scored_for(industry: str) -> set[str]:
    """The interaction kinds the rule set scoring a contact of `industry` has rules on or
    counts as conversion (the contact page lists them first when logging an interaction)."""
    from scoring.selectors import kinds_scored_for as kinds

    return kinds(industry)


def breakdown_labels(breakdown: dict) -> tuple[str | None, dict[int, str]]:
    """A stored score breakdown's rule-set name and rule labels in the active language (the contact
    page): a built-in label (a playbook's, the advisor's) by its stored message, one a person typed as
    typed. Published rules never change, so a breakdown's rule ids name the labels it was scored with.
    One query; a rule deleted since keeps the label stored in the breakdown."""
    from scoring.models import Rule, RuleSetVersion, rule_label, ruleset_name

    ids = [hit["rule"] for hit in breakdown.get("hits") or () if isinstance(hit.get("rule"), int)]
    rules = list(Rule.objects.filter(pk__in=ids).select_related("version__ruleset").only(
        "label", "label_message", "label_params", "version__ruleset__name", "version__ruleset__playbook")) if ids else []
    labels = {rule.pk: rule_label(rule.label, rule.label_message, rule.label_params) for rule in rules}
    name = breakdown.get("ruleset")
    rulesets = [rule.version.ruleset for rule in rules[:1]]
    if not rulesets and name and isinstance(breakdown.get("version"), int):  # no rule matched: ask its version
        rulesets = [v.ruleset for v in RuleSetVersion.objects.filter(pk=breakdown["version"]).select_related("ruleset")]
    if rulesets and rulesets[0].name == name:
        name = ruleset_name(name, rulesets[0].playbook)
    return name, labels
