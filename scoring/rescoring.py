"""Scoring contacts: run the engine and store score, breakdown and stage changes, for one
contact (under its row lock), for many (batched reads, set-based writes), for every contact
in chunks any worker may take, and for the contacts an event marked (the pending drain).

Every path recomputes from the interactions (never adds to a stored total), so a
task delivered twice, or two at once, ends in the same state.
"""

from __future__ import annotations

import gc
import io
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from contacts.assignment import prospects_assign
from contacts.events import stage_changes_recorded
from contacts.models import Contact, Stage, StageChange
from crm.background import in_background
from crm.celery import app
from scoring import engine
from scoring.models import RescoreChunk, RescoreRun, RuleSetVersion
from scoring.selectors import (
    ActiveRuleSets,
    BulkRead,
    active_rulesets,
    contact_facts,
    contact_row,
    iter_contact_facts,
    iter_ids_facts,
    iter_range_facts,
    load_touches,
    unstable_q,
)
from scoring.tasks import PENDING_WAKE_KEY, rescore_chunk_task

log = logging.getLogger(__name__)



# --- Breakdown -----------------------------------------------------------------

def breakdown_json(result: engine.Result, version: RuleSetVersion | None, now: datetime) -> dict[str, Any]:
    """The stored explanation: which rule gave how many points from which interactions."""
    return {
        "version": version.pk if version else None,
        "version_number": version.number if version else None,
        "ruleset": version.ruleset.name if version else None,
        "score": result.score,
        "computed_at": now.isoformat(),
        "hits": [
            {"rule": h.rule_id, "label": h.label, "points": str(h.points), "count": h.count, "interactions": list(h.touch_ids)}
            for h in result.hits
        ],
    }


def breakdown_reconciles(breakdown: dict[str, Any], score: int) -> bool:
    """The ledger check: a stored score equals the rounded sum of its breakdown."""
    from decimal import Decimal

    if not breakdown:
        return score == 0
    return engine.score_total(Decimal(h["points"]) for h in breakdown.get("hits", [])) == score == breakdown.get("score")


# --- One contact ---------------------------------------------------------------

@dataclass(frozen=True)
class Scored:
    contact_id: int
    score: int
    stage: str
    changed: bool


def contact_rescore(*, contact_id: int, now: datetime | None = None, rulesets: ActiveRuleSets | None = None) -> Scored | None:
    """Score one contact under the published rule set for its industry. Idempotent and
    race-safe: the contact row is locked while its score is computed and stored."""
    rulesets = rulesets or active_rulesets()
    with transaction.atomic():
        if not Contact.objects.select_for_update().filter(pk=contact_id).exists():
            return None  # deleted after the task was queued
        # Taken under the lock: every interaction committed before it is in the past of `now`.
        now = now or timezone.now()
        row = contact_row(contact_id)
        ruleset = rulesets.for_industry(row["industry"])
        if ruleset is None or row["objects_to_profiling"]:
            # No rules yet, or the person objected to profiling: nothing automated applies.
            Contact.objects.filter(pk=contact_id).update(needs_rescore=False)
            return Scored(contact_id, 0, row["stage"], changed=False)
        touches = load_touches([contact_id], with_data=rulesets.needs_data).get(contact_id, [])
        result = engine.evaluate(ruleset, contact_facts(row, touches), now)
        version = rulesets.versions.get(ruleset.version_id)
        Contact.objects.filter(pk=contact_id).update(
            score=result.score, score_breakdown=breakdown_json(result, version, now), scored_at=now, needs_rescore=False,
            score_digest=engine.result_digest(result, ruleset.version_id), score_stable_until=stable_until(result, now),
            **({"stage": result.stage, "stage_changed_at": now} if result.changed else {}),
        )
        if result.changed:
            _moves_record([(contact_id, row["stage"], result, version)], now)
    return Scored(contact_id, result.score, result.stage, result.changed)


# --- Many contacts ---------------------------------------------------------------

@dataclass
class BatchOutcome:
    scored: int = 0
    stage_changes: int = 0
    one_by_one: int = 0  # contacts the bulk write skipped, scored again under their row lock
    transitions: Counter = field(default_factory=Counter)
    written: set[int] = field(default_factory=set, repr=False)


def rescore_range(*, first_id: int, last_id: int, now: datetime | None = None,
                  rulesets: ActiveRuleSets | None = None, skip_stable: bool = False) -> BatchOutcome:
    """Score every contact with first_id <= id <= last_id: batched reads, set-based writes.

    Writes are optimistic: a row is written only if its `updated_at` is what we read,
    so a contact changed meanwhile keeps its needs_rescore mark for the one-contact path.
    `skip_stable`: leave out, unread, the contacts whose stored result cannot have changed
    (not marked, scored under the rules in force, before their score_stable_until); the
    nightly rescore does, a publish's or the `rescore` command's does not.
    Costs and what was tried are in docs/performance.md."""
    rulesets = rulesets or active_rulesets()
    stable = (now or timezone.now(), rulesets.changed_at) if skip_stable else None
    if connection.vendor == "postgresql":
        batches = iter_range_facts(first_id, last_id, read=BulkRead.for_rulesets(rulesets), skip_stable=stable)
    else:
        queryset = Contact.objects.filter(pk__gte=first_id, pk__lte=last_id, objects_to_profiling=False)
        if stable:
            queryset = queryset.filter(unstable_q(*stable))
        batches = iter_contact_facts(queryset, with_data=rulesets.needs_data)
    return _score_batches(batches, rulesets, now)


def contacts_rescore(*, contact_ids: Iterable[int], now: datetime | None = None,
                     rulesets: ActiveRuleSets | None = None) -> BatchOutcome:
    """Score many contacts at once (a burst of events, the stale sweep) through the bulk path.
    Contacts it could not write (changed while read, no rule set, objecting to profiling)
    go through contact_rescore, which locks the row: every id ends scored and unmarked."""
    ids = sorted(set(contact_ids))
    rulesets = rulesets or active_rulesets()
    if connection.vendor == "postgresql":
        batches = iter_ids_facts(ids, read=BulkRead.for_rulesets(rulesets))
    else:
        batches = iter_contact_facts(Contact.objects.filter(pk__in=ids, objects_to_profiling=False),
                                     with_data=rulesets.needs_data)
    outcome = _score_batches(batches, rulesets, now)
    for contact_id in sorted(set(ids) - outcome.written):
        outcome.one_by_one += 1
        scored = contact_rescore(contact_id=contact_id, now=now, rulesets=rulesets)
        if scored is not None and scored.changed:
            outcome.stage_changes += 1
    outcome.scored = len(ids)
    return outcome


def _score_batches(batches, rulesets: ActiveRuleSets, now: datetime | None) -> BatchOutcome:
    """Without an explicit `now`, each batch is scored as of the moment it was read: an
    interaction committed just before the read (its time is its commit's, or earlier) is
    then never "in the future" of the score that clears its contact's needs_rescore mark."""
    outcome = BatchOutcome()
    explicit_now = now
    evaluate, for_industry = engine.evaluate, rulesets.for_industry
    gc_was_enabled = gc.isenabled()
    for batch in batches:
        now = explicit_now or timezone.now()
        updates, moves, unchanged, restamp = [], [], set(), []
        # The batch allocates ~100 objects per contact and frees them by reference counting;
        # the cyclic collector would rescan them over and over (docs/performance.md).
        gc.disable()
        try:
            for row, facts in batch:
                ruleset = for_industry(row["industry"])
                if ruleset is None:
                    continue
                result = evaluate(ruleset, facts, now)
                digest = engine.result_digest(result, ruleset.version_id)
                until = stable_until(result, now)
                if digest == row["score_digest"] and not result.changed and not row["needs_rescore"]:
                    unchanged.add(row["id"])  # what is stored is what we would store: no breakdown, no write
                    stored_until = row["score_stable_until"]
                    if stored_until is None or stored_until <= now:
                        restamp.append((row["id"], until))  # only the date, so the next run skips it again
                    continue
                version = rulesets.versions.get(ruleset.version_id)
                updates.append((row["id"], row["updated_at"], row["stage"], result, breakdown_json(result, version, now),
                                digest, until))
                if result.changed:
                    moves.append((row, result, version))
        finally:
            if gc_was_enabled:
                gc.enable()
        # One transaction for a batch's scores, its stage changes and what they set off (owners, follow-up
        # tasks, enrollments, webhook outbox rows): nobody sees a prospect without its owner.
        with transaction.atomic():
            _stable_until_write(restamp)
            written = _write_scores(updates, now)
            moved = [(row["id"], row["stage"], result, version) for row, result, version in moves if row["id"] in written]
            _moves_record(moved, now)
        outcome.scored += len(written) + len(unchanged)
        outcome.written |= written | unchanged
        for _pk, from_stage, result, _version in moved:
            outcome.stage_changes += 1
            outcome.transitions[(from_stage, result.stage)] += 1
    return outcome


Move = tuple[int, str, engine.Result, RuleSetVersion | None]  # contact id, from stage, result, version
NewMove = tuple[Contact, str, engine.Result, RuleSetVersion | None]  # the same, before the contact has an id


def _moves_record(moves: list[Move], now: datetime) -> None:
    """One INSERT for many contacts' stage changes; new prospects then get owner and follow-up."""
    if not moves:
        return  # bulk_create would still open (and commit) an empty transaction
    changes = StageChange.objects.bulk_create(
        StageChange(contact_id=pk, from_stage=from_stage, to_stage=result.stage, changed_at=now,
                    reason_code=result.reason.code, reason_params=dict(result.reason.params), score=result.score,
                    ruleset_version=version)
        for pk, from_stage, result, version in moves
    )
    stage_changes_recorded(changes)
    if prospects := [pk for pk, _from, result, _version in moves if result.stage == Stage.PROSPECT]:
        prospects_assign(contact_ids=prospects, now=now)


# --- New contacts, scored before they are inserted ---------------------------------

def new_contacts_score(contacts: Iterable[Contact], *, now: datetime) -> list[NewMove]:
    """Score unsaved contacts that have no interactions yet (an import's new people) on
    their fields alone, and set the result on them: inserted scored, they need no UPDATE
    afterwards, which rewrote each new row and all its index entries (docs/performance.md).
    Returns their stage moves for new_contacts_record_moves,
    to be called once the contacts have ids."""
    rulesets = active_rulesets()
    moves = []
    for contact in contacts:
        ruleset = rulesets.for_industry(contact.industry)
        if ruleset is None or contact.objects_to_profiling:
            continue  # nothing automated applies, as in contact_rescore
        result = engine.evaluate(ruleset, contact_facts(vars(contact), ()), now)  # vars: the fields by attname
        version = rulesets.versions.get(ruleset.version_id)
        contact.score, contact.score_breakdown, contact.scored_at = result.score, breakdown_json(result, version, now), now
        contact.score_digest, contact.needs_rescore = engine.result_digest(result, ruleset.version_id), False
        contact.score_stable_until = stable_until(result, now)
        if result.changed:
            moves.append((contact, contact.stage, result, version))
            contact.stage, contact.stage_changed_at = result.stage, now
    return moves


def new_contacts_record_moves(moves: list[NewMove], *, now: datetime) -> None:
    """The stage changes new_contacts_score found, recorded once their contacts are inserted."""
    _moves_record([(contact.pk, from_stage, result, version) for contact, from_stage, result, version in moves], now)


# An event's batch is often one or two contacts: one UPDATE each is then cheaper than the
# temporary table's four statements and a transaction (docs/performance.md, figure 2).
ROW_BY_ROW_UP_TO = 2


# A stored result is read again at least this often, whatever its stable_until says: a safety
# net for a change that reached a contact without marking it (docs/decisions.md).
STABLE_AT_MOST = timedelta(days=7)


def stable_until(result: engine.Result, now: datetime) -> datetime:
    until = result.stable_until
    return now + STABLE_AT_MOST if until is None or until > now + STABLE_AT_MOST else until


def _stable_until_write(rows: list[tuple[int, datetime]]) -> None:
    """Move on the stable_until of rows whose result is unchanged: one narrow UPDATE (no
    indexed column changes, so PostgreSQL can update in place), not the row's breakdown."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE contacts_contact AS c SET score_stable_until = v.until"
                " FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, until) WHERE c.id = v.id",
                [[pk for pk, _ in rows], [until for _, until in rows]],
            )
        return
    for pk, until in rows:
        Contact.objects.filter(pk=pk).update(score_stable_until=until)


def _write_scores(updates: list[tuple[int, datetime, str, engine.Result, dict, int, datetime]], now: datetime) -> set[int]:
    """Store many results in one statement per batch; returns the ids actually written.

    A row is skipped when its data or stage changed after we read it (another writer or
    the one-contact scorer got there first), so no stage move is ever recorded twice."""
    if not updates:
        return set()
    if connection.vendor == "postgresql" and len(updates) > ROW_BY_ROW_UP_TO:
        # COPY into a temporary table, then one UPDATE … FROM it: cheaper on both sides than
        # a VALUES list of bound parameters (docs/performance.md). Text format: JSON escapes
        # tabs and newlines inside strings, so only backslashes need doubling.
        def line(pk: int, seen: datetime, seen_stage: str, result: engine.Result, breakdown: dict, digest: int,
                 until: datetime) -> str:
            payload = orjson.dumps(breakdown).decode().replace("\\", "\\\\")
            return (f"{pk}\t{seen.isoformat()}\t{seen_stage}\t{result.score}\t{result.stage}\t{payload}\t{digest}"
                    f"\t{until.isoformat()}\n")

        buffer = io.StringIO("".join(line(*update) for update in updates))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS scoring_write_scores (id bigint, seen timestamptz, seen_stage text,"
                " score integer, stage text, breakdown jsonb, digest bigint, until timestamptz) ON COMMIT DELETE ROWS"
            )
            cursor.execute("DELETE FROM scoring_write_scores")  # leftovers when inside a caller's transaction
            cursor.cursor.copy_expert("COPY scoring_write_scores FROM STDIN", buffer)
            # The rows are found by their ids (`= ANY`), not by the join alone: the temporary table has no
            # statistics, and on a table of ~100,000 contacts the planner hash-joined it to a sequential scan
            # of every contact, for each batch (docs/performance.md, round two, session eleven).
            cursor.execute(
                "UPDATE contacts_contact AS c SET score = v.score, stage = v.stage, score_breakdown = v.breakdown, score_digest = v.digest,"
                " score_stable_until = v.until, scored_at = %s, needs_rescore = false,"
                " stage_changed_at = CASE WHEN v.stage <> c.stage THEN %s ELSE c.stage_changed_at END"
                " FROM scoring_write_scores AS v"
                " WHERE c.id = ANY(ARRAY(SELECT id FROM scoring_write_scores))"
                " AND c.id = v.id AND c.updated_at = v.seen AND c.stage = v.seen_stage RETURNING c.id",
                [now, now],
            )
            return {r[0] for r in cursor.fetchall()}
    written = set()
    for pk, seen, seen_stage, result, breakdown, digest, until in updates:
        fields = {"score": result.score, "score_breakdown": breakdown, "score_digest": digest, "scored_at": now,
                  "needs_rescore": False, "score_stable_until": until}
        if result.changed:
            fields.update(stage=result.stage, stage_changed_at=now)
        if Contact.objects.filter(pk=pk, updated_at=seen, stage=seen_stage).update(**fields):
            written.add(pk)
    return written


def rescore_start(*, reason: str = "", by=None, chunk_size: int | None = None, version_id: int | None = None,
                  as_of: datetime | None = None) -> RescoreRun:
    """Split all contacts into id ranges; each becomes one task any worker may take.
    A run for a publish (`version_id`) reads every contact; any other (the nightly one)
    skips those whose result cannot have changed. `as_of`: score as of that moment
    instead of each chunk's own (the bench's "a day later")."""
    chunk_size = chunk_size or settings.CRM_RESCORE_CHUNK
    bounds = Contact.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    with transaction.atomic():
        run = RescoreRun.objects.create(reason=reason[:200], started_by=by, version_id=version_id)
        if bounds["lo"] is not None:
            RescoreChunk.objects.bulk_create(
                RescoreChunk(run=run, first_id=lo, last_id=min(lo + chunk_size - 1, bounds["hi"]))
                for lo in range(bounds["lo"], bounds["hi"] + 1, chunk_size)
            )
        run.total_chunks = run.chunks.count()
        if not run.total_chunks:
            run.status, run.finished_at = RescoreRun.Status.DONE, timezone.now()
        run.save()
        chunk_ids = list(run.chunks.values_list("pk", flat=True))
        transaction.on_commit(lambda: _queue_chunks(chunk_ids, as_of=as_of))
    return run


def _queue_chunks(chunk_ids: list[int], *, as_of: datetime | None = None) -> None:
    if app.conf.task_always_eager and chunk_ids:
        # The embedded default has no worker: the same chunk tasks run, eagerly, on a thread of their own
        # (crm.background), so a publish returns at once and the progress card shows the run as it goes.
        in_background(lambda: _send_chunks(chunk_ids, as_of), name=f"rescore chunks {chunk_ids[0]}–{chunk_ids[-1]}")
    else:
        _send_chunks(chunk_ids, as_of)


def _send_chunks(chunk_ids: list[int], as_of: datetime | None = None) -> None:
    for chunk_id in chunk_ids:
        if as_of is None:
            rescore_chunk_task.delay(chunk_id)
        else:
            rescore_chunk_task.delay(chunk_id, as_of=as_of.isoformat())


def rescore_chunk(*, chunk_id: int, now: datetime | None = None) -> BatchOutcome | None:
    """Score one chunk and record progress. Running it again is harmless."""
    chunk = RescoreChunk.objects.filter(pk=chunk_id, done_at__isnull=True).select_related("run").first()
    if chunk is None:
        return None  # already done (a redelivered task) or the run was deleted
    outcome = rescore_range(first_id=chunk.first_id, last_id=chunk.last_id, now=now,
                            skip_stable=chunk.run.version_id is None)
    with transaction.atomic():
        # Claim completion with a conditional UPDATE: only one of two racing runs counts it.
        if RescoreChunk.objects.filter(pk=chunk_id, done_at__isnull=True).update(done_at=timezone.now()):
            RescoreRun.objects.filter(pk=chunk.run_id).update(
                done_chunks=F("done_chunks") + 1, contacts_scored=F("contacts_scored") + outcome.scored,
                stage_changes=F("stage_changes") + outcome.stage_changes,
            )
            RescoreRun.objects.filter(pk=chunk.run_id, done_chunks=F("total_chunks"), status=RescoreRun.Status.RUNNING).update(
                status=RescoreRun.Status.DONE, finished_at=timezone.now(),
            )
    return outcome


def rescore_resume(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Queue again the chunks of unfinished runs that nobody finished (a worker died)."""
    stale = RescoreChunk.objects.filter(
        done_at__isnull=True, run__status=RescoreRun.Status.RUNNING, queued_at__lt=timezone.now() - older_than,
    )
    chunk_ids = list(stale.values_list("pk", flat=True))
    stale.update(queued_at=timezone.now())
    _queue_chunks(chunk_ids)
    return len(chunk_ids)


def rescore_stale(*, limit: int = 5000) -> int:
    """Score contacts still marked needs_rescore (their wake-up was lost, e.g. the broker
    was down, or it is on its way): up to `limit`, lowest ids first, in one bulk pass."""
    started = time.perf_counter()
    ids = list(Contact.objects.filter(needs_rescore=True).order_by("pk").values_list("pk", flat=True)[:limit])
    if ids:
        outcome = contacts_rescore(contact_ids=ids)
        # What event -> stage waits for on the worker, and why (docs/performance.md): said aloud
        # when a batch is slow or some contacts needed the one-contact path.
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.log(logging.INFO if elapsed_ms >= 250 or outcome.one_by_one else logging.DEBUG,
                "scored %d marked contacts in %.0f ms (%d one by one, %d stage changes)",
                len(ids), elapsed_ms, outcome.one_by_one, outcome.stage_changes)
    return len(ids)


PENDING_DRAIN_KEY = "scoring:pending-drain"


def rescore_pending(*, limit: int = 2000) -> int:
    """The worker side of event scoring: one drainer at a time scores what is marked, in
    bulk, until nothing is. Two runs at once read the same contacts, and the one writing
    second had to redo one by one every contact the first had moved (docs/performance.md).

    A run that finds the drain taken returns at once: its contacts were marked before it was
    woken, and the drainer, after letting go and clearing the wake-up key, looks once more.
    If the drainer dies, its key expires; the stale sweeper covers the minute in between."""
    timeout = settings.CRM_PENDING_WAKE_SECONDS
    done = 0
    while True:
        # add() also says False when Redis errs (crm.cache); then nobody is known to hold the
        # drain, and draining anyway is right: two drainers are only slower.
        if not cache.add(PENDING_DRAIN_KEY, 1, timeout=timeout) and cache.get(PENDING_DRAIN_KEY) is not None:
            break
        try:
            while scored := rescore_stale(limit=limit):
                done += scored
                if scored < limit:
                    break  # all that was marked; the check below, after letting go, sees any newcomer
                cache.touch(PENDING_DRAIN_KEY, timeout)
        finally:
            # Let go, then clear the wake-up: a run woken meanwhile has returned, and events from
            # here on queue a new run (an error mid-drain must not leave either key behind).
            cache.delete_many([PENDING_DRAIN_KEY, PENDING_WAKE_KEY])  # one DEL: both go at once
        if not Contact.objects.filter(needs_rescore=True).exists():
            break
    return done


def rescore_all_now(*, now: datetime | None = None, skip_stable: bool = False) -> BatchOutcome:
    """Rescore every contact in this process (commands, tests, the embedded default)."""
    bounds = Contact.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return BatchOutcome()
    return rescore_range(first_id=bounds["lo"], last_id=bounds["hi"], now=now, skip_stable=skip_stable)


def scores_reconcile() -> dict[str, Any]:
    """The ledger check behind `check_scores`: every stored score equals its breakdown."""
    checked, mismatched = 0, []
    rows = Contact.objects.filter(scored_at__isnull=False).values_list("pk", "score", "score_breakdown")
    for pk, score, breakdown in rows.iterator(chunk_size=5000):
        checked += 1
        if not breakdown_reconciles(breakdown, score):
            mismatched.append(pk)
    return {"checked": checked, "mismatched": mismatched}
