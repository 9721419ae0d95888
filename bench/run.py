"""One bench run after Django is set up: prepare the database, seed, run the figures."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.db import connection

from bench import harness
from bench.budgets import SIZES
from bench.generator import Workload, truncate
from bench.harness import QUEUE, Row

ADMIN = ("bench-admin", "bench-admin-password")
API_USER = "bench-api"
REPS = 10


@dataclass
class Context:
    size: str
    work: Workload
    url: str
    log_dir: Path
    seed_stats: dict[str, Any] = field(default_factory=dict)
    redis_url: str = field(default_factory=lambda: os.environ.get("REDIS_URL", ""))
    log: Callable[[str], None] = lambda message: print(message, flush=True)


def prepare_database() -> None:
    """Migrate, run Celery in-process (a publish must not queue work for a worker we do not
    own) and route any queued task to the bench's own queue."""
    from django.conf import settings

    from crm.celery import app

    # Production-like: no query log (DEBUG keeps every query's SQL and wraps every cursor).
    settings.DEBUG = False
    call_command("migrate", interactive=False, verbosity=0)
    app.conf.task_always_eager = True
    app.conf.task_default_queue = QUEUE


def load_rules_and_users() -> None:
    """The five playbooks (published while the contact table is empty, so no rescore runs),
    an admin for the pages, an API user with a token, and sales reps for round-robin."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from crm import roles
    from scoring.rulesets import playbook_load

    for name in ("general", "ecommerce", "b2b", "healthcare", "education"):
        playbook_load(name=name, publish=True)
    User = get_user_model()
    admin, _ = User.objects.get_or_create(username=ADMIN[0], defaults={"is_staff": True, "is_superuser": True})
    admin.set_password(ADMIN[1])
    admin.save()
    admin.groups.set(Group.objects.filter(name=roles.ADMIN))
    api_user, _ = User.objects.get_or_create(username=API_USER)
    api_user.groups.set(Group.objects.filter(name=roles.ADMIN))
    Token.objects.get_or_create(user=api_user)
    for i in range(REPS):
        rep, _ = User.objects.get_or_create(username=f"bench-rep-{i}", defaults={"first_name": f"Rep {i}"})
        rep.groups.set(Group.objects.filter(name=roles.SALES))


def _seeded_marker() -> dict:
    with connection.cursor() as cur:
        cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()")
        text = cur.fetchone()[0]
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {}


def _mark_seeded(stats: dict) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT current_database()")
        name = cur.fetchone()[0]
        cur.execute(f'COMMENT ON DATABASE "{name}" IS %s', (json.dumps(stats),))


def run(*, size: str, seed: int, url: str, figures: set[str], output: Path, reuse: bool, log_dir: Path,
        started: datetime) -> int:
    from bench import (
        fig_api,
        fig_campaign,
        fig_event,
        fig_import,
        fig_interaction,
        fig_load,
        fig_pages,
        fig_rescore,
        fig_seed,
        fig_webhook,
    )

    contacts, interactions = SIZES[size]
    ctx = Context(size=size, work=Workload(contacts, interactions, seed=seed), url=url, log_dir=log_dir)
    prepare_database()
    with connection.cursor() as cur:
        machine = harness.machine_info(cur)

    marker = _seeded_marker()
    if reuse and marker.get("size") == size and marker.get("seed") == seed:
        ctx.log(f"seed: reusing the {size} workload already in the database (--reuse-data)")
        ctx.seed_stats = {**marker, "reused": True}
    else:
        ctx.log(f"seed: {contacts:,} contacts, {interactions:,} interactions (seed {seed})")
        truncate(harness.dsn(url))
        load_rules_and_users()  # on empty tables: publishing rescores nothing
        connection.close()  # the loaders truncate again; hold no locks
        ctx.seed_stats = {**fig_seed.seed_workload(ctx, seed), "size": size}
        _mark_seeded(ctx.seed_stats)

    modules = [("seed", fig_seed), ("rescore", fig_rescore), ("interaction", fig_interaction), ("event", fig_event),
               ("pages", fig_pages), ("api", fig_api), ("import", fig_import), ("campaign", fig_campaign),
               ("webhook", fig_webhook), ("load", fig_load)]
    rows: list[Row] = []
    for name, module in modules:
        if name not in figures:
            continue
        ctx.log(f"figure {name}: running")
        if unsettled := harness.checkpoint():
            ctx.log(f"  {unsettled}: earlier figures' write-back may land on this one")
        try:
            new = module.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken figure must not hide the others
            traceback.print_exc()
            new = [harness.not_measured(getattr(module, "FIGURE", "?"), name, f"error: {type(exc).__name__}: {exc}")]
        for row in new:
            row.judge(size)
            ctx.log(f"  {row.figure} {row.title}: {row.value if row.value is None else round(row.value, 3)} {row.unit} [{row.status}]")
        rows += new
        harness.write_results(output, size=size, rows=rows, machine=machine, workload=ctx.seed_stats, started=started)

    print()
    print(f"Saring bench — size {size}: {contacts:,} contacts, {ctx.seed_stats.get('interactions', interactions):,} interactions;"
          f" {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gb']} GB, {machine.get('postgresql', '')}")
    print(harness.table(rows))
    return sum(1 for r in rows if r.status == "miss")
