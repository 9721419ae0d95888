"""`python -m bench --size tiny|S|L` (what `make bench` runs).

Runs on PostgreSQL only, in its own database: DATABASE_URL with `_bench` appended to
the database name (created and migrated when missing, emptied and re-seeded each run),
so a developer's data is never touched. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.budgets import SIZES
from bench.harness import RESULTS, BenchError, bench_database_url, bench_redis_url, ensure_database

FIGURES = ("seed", "rescore", "interaction", "event", "pages", "api", "import", "campaign", "webhook", "load")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=list(SIZES), default="S", help="workload size (default S)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--database", help="bench database name (default: DATABASE_URL's name + '_bench')")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS})")
    parser.add_argument("--only", help=f"comma-separated figures to run (of {', '.join(FIGURES)}); seeding always runs")
    parser.add_argument("--reuse-data", action="store_true",
                        help="skip seeding when the bench database already holds this size and seed (development only)")
    parser.add_argument("--redis-db", type=int, default=15,
                        help="Redis database number for the bench's queue on REDIS_URL's server (default 15)")
    parser.add_argument("--log-dir", type=Path,
                        help="keep the services' logs and per-event timings here (default: a temporary directory)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        url = bench_database_url(os.environ.get("DATABASE_URL", ""), args.database)
    except BenchError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    try:
        created = ensure_database(url)
    except BenchError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = url
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = bench_redis_url(os.environ["REDIS_URL"], args.redis_db)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # a development tool: DEBUG is off when unset
    os.environ["AXES_ENABLED"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    import django

    django.setup()
    from bench.run import run

    selected = set(FIGURES) if not args.only else {"seed", *(f.strip() for f in args.only.split(",") if f.strip())}
    unknown = selected - set(FIGURES)
    if unknown:
        print(f"bench: unknown figure(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    print(f"bench: size {args.size}, database {url.rsplit('/', 1)[-1]}{' (created)' if created else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        log_dir = args.log_dir or Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        misses = run(size=args.size, seed=args.seed, url=url, figures=selected, output=args.output,
                     reuse=args.reuse_data, log_dir=log_dir, started=started)
    print(f"bench: done in {time.perf_counter() - t0:.0f} s; results in {args.output}", flush=True)
    return 1 if (misses and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
