"""`python -m bench.search_only --size L`: figure 6's global search alone, on a contacts-only copy of
the workload (the same generator and indexes, no interactions, no scoring), so its L figure takes
minutes instead of the ~40 of `make bench SIZE=L`. The search reads only the contact table, so its
plans and timings are those of the full workload's. A development tool: `make bench` is the record.

Database: DATABASE_URL's name + `_search_<size>` (or --database), created, migrated and loaded once
(kept for the next run, like --reuse-data). Prints p95 and median of ours and of the naive search
(interleaved rounds), the slowest term of each, and the load average."""

from __future__ import annotations

import argparse
import io
import os
import sys
import time


def load(dsn: str, size: str) -> None:
    """Empty the contact table, COPY the workload's contacts, build the indexes, analyze."""
    from datetime import UTC, datetime

    import psycopg2

    from bench.budgets import SIZES
    from bench.generator import BLOCK, CONTACT_COLUMNS, Workload, generate_block, rebuild_search_text

    contacts, interactions = SIZES[size]
    work = Workload(contacts, interactions)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("TRUNCATE contacts_contact, contacts_contactsearch RESTART IDENTITY CASCADE")
        cur.execute("""SELECT i.indexname, i.indexdef FROM pg_indexes i
                       WHERE i.tablename IN ('contacts_contact', 'contacts_contactsearch')
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""")
        indexes = cur.fetchall()
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        cur.execute("SET session_replication_role = replica")  # no rollup triggers: nothing but contacts is read
        for block in range((contacts + BLOCK - 1) // BLOCK):
            rows, _interactions, _n = generate_block(work, block, now)
            cur.copy_expert(f"COPY contacts_contact ({', '.join(CONTACT_COLUMNS)}) FROM STDIN", io.StringIO(rows))
        rebuild_search_text(cur)
        cur.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cur.execute(definition)
        cur.execute("VACUUM ANALYZE contacts_contact")
        cur.execute("VACUUM ANALYZE contacts_contactsearch")
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_only", description=__doc__)
    parser.add_argument("--size", choices=("tiny", "S", "L"), default="L")
    parser.add_argument("--database", help="database name (default: DATABASE_URL's name + '_search_<size>')")
    parser.add_argument("--rounds", type=int, default=6, help="requests of each term, for each implementation")
    args = parser.parse_args(argv)

    from bench.harness import BenchError, bench_database_url, dsn, ensure_database

    try:
        url = bench_database_url(os.environ.get("DATABASE_URL", ""), args.database)
    except BenchError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if not args.database:
        url = url.removesuffix("_bench") + f"_search_{args.size.lower()}"
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)  # no broker: nothing here queues work
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ["AXES_ENABLED"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from bench import harness
    from bench.fig_pages import _measure, _naive_search, _slowest, search_terms
    from bench.run import ADMIN, _mark_seeded, _seeded_marker

    settings.DEBUG = False
    call_command("migrate", interactive=False, verbosity=0)
    if _seeded_marker().get("search_only") != args.size:
        started = time.perf_counter()
        print(f"search_only: loading the {args.size} contacts into {url.rsplit('/', 1)[-1]}", flush=True)
        load(dsn(url), args.size)
        _mark_seeded({"search_only": args.size})
        print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    admin, _ = get_user_model().objects.get_or_create(username=ADMIN[0], defaults={"is_superuser": True, "is_staff": True})
    client = Client()
    client.force_login(admin)
    terms = search_terms()
    urls = ["/search/?" + harness_query(term) for term in terms]
    n = args.rounds * len(urls)
    ours, naive = [], []
    for _round in range(3):  # interleaved: the machine's load drifts
        with _naive_search():
            naive += _measure(client, urls, n // 3)[0]
        ours += _measure(client, urls, n // 3)[0]
    load_avg = os.getloadavg()
    p95, base = harness.percentile(ours, 95), harness.percentile(naive, 95)
    print(f"global search at {args.size} (contacts only), {len(ours)} requests each, load average "
          f"{load_avg[0]:.1f} / {load_avg[1]:.1f} / {load_avg[2]:.1f}")
    print(f"  ours : p95 {p95:.1f} ms, median {harness.median(ours):.1f} ms; slowest term {_slowest(urls, ours)}")
    print(f"  naive: p95 {base:.1f} ms, median {harness.median(naive):.1f} ms; slowest term {_slowest(urls, naive)}")
    print(f"  ratio (naive / ours, p95): {base / p95:.1f}×")
    return 0


def harness_query(term: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": term})


if __name__ == "__main__":
    sys.exit(main())
