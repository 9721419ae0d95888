"""Run one step of a fault scenario in a fresh Django process bound to the throwaway
services (DATABASE_URL / REDIS_URL from the environment). Prints one JSON line.

    python tests/faults/driver.py setup
    python tests/faults/driver.py log --contacts 40 --events 200 --prefix redisdown
    python tests/faults/driver.py check
    ...

Kept as a script (not imported by pytest) so that each step runs with exactly the
settings a web or worker process would have, including a real, possibly dead, broker.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from contacts.models import Contact, Interaction, StageChange  # noqa: E402
from followup.models import Task  # noqa: E402

# Kinds that walk a general-playbook contact through lead (20) and prospect (50, needs intent).
WALK = ("form_submitted", "page_viewed", "form_submitted", "price_requested", "demo_requested", "email_clicked", "purchase")


def out(payload: dict) -> None:
    print(json.dumps(payload, default=str), flush=True)


def cmd_setup(args) -> None:
    """Playbooks published, role groups, one user per role and an API token for the loader."""
    from rest_framework.authtoken.models import Token

    from contacts.catalog import catalog_ensure
    from crm import roles
    from scoring.rulesets import playbook_load

    catalog_ensure()
    for name in ("general", "ecommerce", "b2b", "healthcare", "education"):
        playbook_load(name=name, publish=True)
    for role in roles.ROLES:
        Group.objects.get_or_create(name=role)
    users = {}
    for username, role in (("admin", roles.ADMIN), ("rep1", roles.SALES), ("rep2", roles.SALES), ("loader", roles.ADMIN)):
        user = get_user_model().objects.create_user(username=username, password=f"pw-{username}-faults")
        user.groups.add(Group.objects.get(name=role))
        users[username] = user.pk
    token = Token.objects.create(user_id=users["loader"])
    out({"users": users, "token": token.key})


def _contacts(prefix: str, n: int, *, rescore: bool) -> list[Contact]:
    from contacts.services import contact_upsert

    return [contact_upsert(data={"full_name": f"{prefix} {i}", "email": f"{prefix}{i}@faults.example.co.id",
                                 "industry": "other"}, rescore=rescore).contact for i in range(n)]


def cmd_log(args) -> None:
    """Create contacts and log interactions through the services; time every call."""
    from contacts.services import interaction_log

    started = time.monotonic()
    contacts = _contacts(args.prefix, args.contacts, rescore=not args.no_rescore)
    latencies, created = [], 0
    now = timezone.now()
    for n in range(args.events):
        contact = contacts[n % len(contacts)]
        kind = WALK[(n // len(contacts)) % len(WALK)]
        t0 = time.monotonic()
        logged = interaction_log(contact=contact, kind=kind, occurred_at=now - timedelta(seconds=args.events - n),
                                 source=args.prefix, external_id=f"{args.prefix}-{n}", rescore=not args.no_rescore)
        latencies.append(time.monotonic() - t0)
        created += logged.created
    out({"contacts": len(contacts), "sent": args.events, "created": created, "max_latency": round(max(latencies, default=0), 3),
         "mean_latency": round(sum(latencies) / max(len(latencies), 1), 4), "seconds": round(time.monotonic() - started, 2),
         "contact_ids": [c.pk for c in contacts]})


def cmd_check(args) -> None:
    """Compare every stored score and stage with what the engine gives, and count duplicates."""
    from scoring import engine
    from scoring.selectors import active_rulesets, contact_facts, contact_row, load_touches

    rulesets = active_rulesets()
    mismatched, unscored, checked = [], [], 0
    qs = Contact.objects.filter(objects_to_profiling=False)
    if args.prefix:
        qs = qs.filter(email__startswith=args.prefix)
    for contact_id in qs.order_by("pk").values_list("pk", flat=True):
        row = contact_row(contact_id)
        ruleset = rulesets.for_industry(row["industry"])
        stored = Contact.objects.values("score", "scored_at", "needs_rescore", "score_breakdown").get(pk=contact_id)
        checked += 1
        if stored["scored_at"] is None:
            unscored.append(contact_id)
            continue
        touches = load_touches([contact_id], with_data=rulesets.needs_data).get(contact_id, [])
        # Re-evaluate at the moment it was scored: same inputs, so the same score, and
        # an unchanged stage unless a promotion was missed.
        result = engine.evaluate(ruleset, contact_facts(row, touches), stored["scored_at"])
        version_ok = (stored["score_breakdown"] or {}).get("version") == ruleset.version_id
        if result.score != stored["score"] or result.stage != row["stage"] or stored["needs_rescore"] or not version_ok:
            mismatched.append({"id": contact_id, "stored": stored["score"], "engine": result.score, "stage": row["stage"],
                               "engine_stage": result.stage, "stale": stored["needs_rescore"], "version_ok": version_ok})
    # A second StageChange for the same (contact, from, to) would mean a task applied twice.
    moves = Counter(StageChange.objects.filter(contact__in=qs).values_list("contact_id", "from_stage", "to_stage"))
    duplicates = {f"{c}:{a}->{b}": n for (c, a, b), n in moves.items() if n > 1}
    follow_ups = Counter(Task.objects.filter(contact__in=qs).values_list("contact_id", flat=True))
    out({"checked": checked, "mismatched": len(mismatched), "mismatch_sample": mismatched[:5], "unscored": len(unscored),
         "stale": Contact.objects.filter(needs_rescore=True).count(), "stage_changes": sum(moves.values()),
         "duplicate_stage_changes": duplicates, "duplicate_follow_ups": {k: v for k, v in follow_ups.items() if v > 1},
         "interactions": Interaction.objects.count(), "contacts": Contact.objects.count(),
         "stages": dict(Counter(qs.values_list("stage", flat=True)))})


def cmd_snapshot(args) -> None:
    """The scoring state of the given contacts, for comparing two runs."""
    ids = [int(i) for i in args.ids.split(",")]
    state = {}
    for c in Contact.objects.filter(pk__in=ids).order_by("pk"):
        breakdown = dict(c.score_breakdown or {})
        breakdown.pop("computed_at", None)
        state[c.pk] = {
            "score": c.score, "stage": c.stage, "owner": c.owner_id, "breakdown": breakdown,
            "stage_changes": list(c.stage_changes.order_by("pk").values_list("from_stage", "to_stage")),
            "follow_ups": c.tasks.count(), "notes": c.notes.count(),
        }
    out({"state": state})


def _task(name: str):
    """A task by name: "score_pending_task" (scoring.tasks) or a dotted path "nurture.tasks.sequences_run_task"."""
    import importlib

    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module or "scoring.tasks"), attr)


def cmd_send(args) -> None:
    """Publish tasks to the broker: the id list `times` times over, or with --adjacent
    each id `times` times in a row (so two idle workers take the copies at once)."""
    task = _task(args.task)
    ids = [int(i) for i in args.ids.split(",")] if args.ids else [None]
    order = [i for i in ids for _ in range(args.times)] if args.adjacent else [i for _ in range(args.times) for i in ids]
    for value in order:
        task.delay(value) if value is not None else task.delay()
    out({"sent": len(order)})


def cmd_race(args) -> None:
    """Run the same task for the same ids in several threads at once, in this process
    (each thread has its own database connection), released together by a barrier."""
    import threading

    from django.db import connections

    task = _task(args.task)
    calls = [[int(i)] for i in args.ids.split(",")] if args.ids else [[]]  # a task of ids, or one without arguments
    barrier = threading.Barrier(args.threads)
    errors: list[str] = []

    def work() -> None:
        try:
            barrier.wait()
            for call_args in calls:
                task.apply(args=call_args, throw=True)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on any
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out({"runs": args.threads * len(calls), "errors": errors})


def cmd_sequence_setup(args) -> None:
    """The starter library, a two-step sequence for new leads (both steps due at once), and N
    contacts set to lead by hand (each enrolled by that stage change)."""
    from contacts.services import contact_set_stage, contact_upsert
    from nurture.models import Message
    from nurture.sequences import sequence_save
    from nurture.services import starter_library_load

    starter_library_load()
    sequence_save(data={"name": f"{args.prefix} leads", "trigger_stage": "lead"}, by=None, steps=[
        {"wait_days": 0, "message": Message.objects.get(starter_key="all-edu-id").pk},
        {"wait_days": 0, "message": Message.objects.get(starter_key="all-edu-en").pk}])
    ids = []
    for i in range(args.contacts):
        contact = contact_upsert(data={"full_name": f"{args.prefix} {i}", "email": f"{args.prefix}{i}@faults.example.co.id",
                                       "consent_email": True}, rescore=False).contact
        contact_set_stage(contact=contact, stage="lead", by=None)
        ids.append(contact.pk)
    out({"contact_ids": ids})


def cmd_sequence_state(args) -> None:
    """Deliveries of sequence steps: per status, and any (enrollment, step) with more than one row."""
    from django.db.models import Count

    from nurture.models import Delivery, Enrollment

    steps = Delivery.objects.filter(enrollment__isnull=False)
    out({"statuses": dict(Counter(steps.values_list("status", flat=True))),
         "duplicates": list(steps.values("enrollment", "step_position").annotate(n=Count("pk")).filter(n__gt=1)
                            .values_list("enrollment", "step_position")),
         "enrollments": dict(Counter(Enrollment.objects.values_list("status", flat=True)))})


def cmd_mark(args) -> None:
    """Mark contacts needs_rescore as an event's transaction does, without waking the scorer."""
    ids = [int(i) for i in args.ids.split(",")]
    out({"marked": Contact.objects.filter(pk__in=ids).update(needs_rescore=True)})


def cmd_publish_variant(args) -> None:
    """Publish a new version of the default rule set with every points value changed:
    every contact's score changes, and a full rescore is queued (on the broker)."""
    from scoring.models import RuleSet
    from scoring.rulesets import version_draft, version_publish

    ruleset = RuleSet.objects.get(industry="")
    draft = version_draft(ruleset=ruleset)
    for rule in draft.rules.all():
        rule.points = rule.points + (1 if rule.points > 0 else -1)
        rule.save(update_fields=["points"])
    version = version_publish(version=draft)
    out({"version": version.pk})


def cmd_run_state(args) -> None:
    from scoring.models import RescoreChunk, RescoreRun

    run = RescoreRun.objects.order_by("-pk").first()
    payload = {"run": None}
    if run:
        payload = {"run": run.pk, "status": run.status, "total": run.total_chunks, "done": run.done_chunks,
                   "scored": run.contacts_scored, "pending": RescoreChunk.objects.filter(run=run, done_at__isnull=True).count()}
    out(payload)


def cmd_resume(args) -> None:
    from scoring.rescoring import rescore_resume

    out({"requeued": rescore_resume(older_than=timedelta(seconds=0))})


def cmd_rescore_start(args) -> None:
    """Split all contacts into chunks and queue them (as publishing or the nightly job does)."""
    from scoring.rescoring import rescore_start

    run = rescore_start(reason="faults", chunk_size=args.chunk)
    out({"run": run.pk, "chunks": list(run.chunks.values_list("pk", flat=True))})


def cmd_seed(args) -> None:
    """Many contacts with interactions, fast (bulk inserts), scores left stale on purpose
    (needs_rescore stays False: only a full rescore fixes them)."""
    from contacts.catalog import catalog_ensure

    catalog_ensure()
    now = timezone.now()
    batch = [Contact(full_name=f"{args.prefix} {i}", email=f"{args.prefix}{i}@faults.example.co.id", industry="other")
             for i in range(args.contacts)]
    Contact.objects.bulk_create(batch, batch_size=2000)
    ids = list(Contact.objects.filter(email__startswith=args.prefix).values_list("pk", flat=True))
    rows = []
    for n, contact_id in enumerate(ids):
        for k in range(n % 6 + 1):
            rows.append(Interaction(contact_id=contact_id, kind_id=WALK[k], occurred_at=now - timedelta(hours=k + 1),
                                    source=args.prefix, external_id=f"{args.prefix}-{contact_id}-{k}"))
    Interaction.objects.bulk_create(rows, batch_size=5000)
    out({"contacts": len(ids), "interactions": len(rows), "first": min(ids), "last": max(ids)})


def cmd_users(args) -> None:
    out({"users": dict(get_user_model().objects.values_list("username", "pk"))})


def cmd_sql_ok(args) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    out({"ok": True})


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("setup")
    p = sub.add_parser("log")
    p.add_argument("--contacts", type=int, default=20)
    p.add_argument("--events", type=int, default=100)
    p.add_argument("--prefix", default="evt")
    p.add_argument("--no-rescore", action="store_true")
    p = sub.add_parser("check")
    p.add_argument("--prefix", default="")
    p = sub.add_parser("snapshot")
    p.add_argument("--ids", required=True)
    p = sub.add_parser("send")
    p.add_argument("task")
    p.add_argument("--ids", default="")
    p.add_argument("--times", type=int, default=1)
    p.add_argument("--adjacent", action="store_true")
    p = sub.add_parser("race")
    p.add_argument("task")
    p.add_argument("--ids", default="")
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("sequence_setup")
    p.add_argument("--contacts", type=int, default=100)
    p.add_argument("--prefix", default="seq")
    sub.add_parser("sequence_state")
    p = sub.add_parser("mark")
    p.add_argument("--ids", required=True)
    sub.add_parser("publish_variant")
    sub.add_parser("run_state")
    sub.add_parser("resume")
    p = sub.add_parser("rescore_start")
    p.add_argument("--chunk", type=int, default=50)
    p = sub.add_parser("seed")
    p.add_argument("--contacts", type=int, default=1000)
    p.add_argument("--prefix", default="bulk")
    sub.add_parser("users")
    sub.add_parser("sql_ok")
    args = parser.parse_args()
    globals()[f"cmd_{args.cmd}"](args)


if __name__ == "__main__":
    main()
