"""The harness: the bench database, result rows, the table, the JSON file, and the
processes some figures need (Celery workers, gunicorn)."""

from __future__ import annotations

import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.budgets import BUDGETS, JUDGED_SIZES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
# The Celery queue the bench's workers consume, apart from any real worker's; CRM_BENCH_QUEUE separates two
# benches running at once on one machine (they purge their queue between figures).
QUEUE = os.environ.get("CRM_BENCH_QUEUE", "bench")


class BenchError(SystemExit):
    """A reason the harness cannot run at all: printed, exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(2)
        self.message = message


# --- The database ------------------------------------------------------------------

def bench_database_url(url: str, name: str | None = None) -> str:
    """DATABASE_URL with the database renamed to `<name>_bench` (or `name`), so a bench
    run never touches the developer's own data. Refuses anything but PostgreSQL."""
    if not url:
        raise BenchError("bench: DATABASE_URL is not set. The benchmark runs on PostgreSQL only, e.g.\n"
                         "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm make bench")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
        raise BenchError(f"bench: refusing to run on {parts.scheme or 'this database'}: the benchmark measures PostgreSQL "
                         "only (SQLite numbers would mean nothing at this size). Set DATABASE_URL=postgres://...")
    current = parts.path.lstrip("/") or "postgres"
    target = name or f"{current}_bench"
    return urlunsplit(parts._replace(path="/" + target))


def bench_redis_url(url: str, db: int) -> str:
    """REDIS_URL on its own database number, so the bench's queue and a developer's (or a
    test suite's FLUSHDB) never meet. Empty when there is no Redis."""
    if not url:
        return ""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def dsn(url: str) -> str:
    """A libpq connection string for psycopg2 from a postgres:// URL."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def ensure_database(url: str) -> bool:
    """Create the bench database when missing; True when it was created."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    try:
        conn = psycopg2.connect(dsn(urlunsplit(parts._replace(path="/postgres"))), connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise BenchError(f"bench: cannot reach PostgreSQL at {parts.hostname}:{parts.port or 5432}: {exc}".strip()) from exc
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone():
            conn.close()
            return False
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return True


# --- Results -------------------------------------------------------------------------

@dataclass
class Row:
    """One line of the table. `ratio_key` names a budget on the ratio to the baseline."""

    figure: str
    title: str
    value: float | None
    unit: str
    budget_key: str | None = None
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    ratio_key: str | None = None
    note: str = ""
    status: str = ""  # pass, miss, info, not measured
    budget: str = ""
    ratio_budget: str = ""

    def judge(self, size: str) -> Row:
        if self.value is None:
            self.status = self.status or "not measured"
            return self
        checks = []
        if self.budget_key:
            budget = BUDGETS[self.budget_key].at(size)
            self.budget = str(budget)
            checks.append(budget.holds(self.value))
        if self.ratio_key and self.ratio is not None:
            ratio_budget = BUDGETS[self.ratio_key]
            self.ratio_budget = str(ratio_budget)
            checks.append(ratio_budget.holds(self.ratio))
        if not checks or size not in JUDGED_SIZES:
            self.status = "info"
        else:
            self.status = "pass" if all(checks) else "miss"
        return self


def not_measured(figure: str, title: str, why: str) -> Row:
    why = " ".join(why.split())[:160]
    return Row(figure, title, None, "", note=why, status=f"not measured: {why}")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{text} {unit}".rstrip()


def _ratio(r: Row) -> str:
    if r.ratio is None:
        return ""
    return f"{r.ratio:,.1f}×" + (f" ({r.ratio_budget})" if r.ratio_budget else "")


def table(rows: list[Row]) -> str:
    header = ("figure", "value", "budget", "baseline (same run)", "ratio", "result")
    lines = []
    for r in rows:
        baseline = f"{_fmt(r.baseline, r.unit)} {r.baseline_label}".strip() if r.baseline is not None else ""
        ratio = _ratio(r)
        lines.append((f"{r.figure} {r.title}", _fmt(r.value, r.unit), r.budget, baseline, ratio, r.status))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
           "-+-".join("-" * w for w in widths)]
    out += [" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    notes = [f"  {r.figure} {r.title}: {r.note}" for r in rows if r.note and r.value is not None]
    return "\n".join(out + (["", "notes:", *notes] if notes else []))


def markdown_table(rows: list[Row]) -> str:
    out = ["| figure | value | budget | baseline (same run) | ratio | result |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        baseline = f"{_fmt(r.baseline, r.unit)} {r.baseline_label}".strip() if r.baseline is not None else ""
        ratio = _ratio(r)
        out.append(f"| {r.figure} {r.title} | {_fmt(r.value, r.unit)} | {r.budget} | {baseline} | {ratio} | {r.status} |")
    return "\n".join(out)


def machine_info(cursor=None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(_meminfo_kb("MemTotal") / 1024 / 1024, 1),
        "load_average_at_start": os.getloadavg(),
    }
    try:
        import django

        info["django"] = django.get_version()
    except ImportError:
        pass
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    if cursor is not None:
        cursor.execute("SELECT version()")
        info["postgresql"] = cursor.fetchone()[0].split(" on ")[0]
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "synchronous_commit"):
            cursor.execute(f"SHOW {name}")
            info[f"pg_{name}"] = cursor.fetchone()[0]
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _meminfo_kb(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def write_results(path: Path, *, size: str, rows: list[Row], machine: dict, workload: dict, started: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "size": size,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": machine,
        "workload": workload,
        "budgets": {k: str(b.at(size)) for k, b in BUDGETS.items()},
        "figures": [asdict(r) for r in rows],
        "table_markdown": markdown_table(rows),
    }
    text = json.dumps(payload, indent=2, default=str) + "\n"
    path.write_text(text)
    if path == RESULTS:  # keep the last run of each size too: the README quotes S and L
        path.with_name(f"{size}.json").write_text(text)


# --- Processes -----------------------------------------------------------------------

def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of one live process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Service:
    """A child process started by the harness (worker or web server), stopped by its own pid."""

    name: str
    proc: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def checkpoint() -> str:
    """CHECKPOINT before a figure, so it does not pay for the write-back of the one before:
    after a full rescore, a checkpoint's fsync stalled every commit for 1.5 s at L
    (docs/performance.md). Returns why it could not, or ''."""
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")  # superuser or pg_checkpoint (PostgreSQL 15)
    except DatabaseError as exc:
        return f"no CHECKPOINT ({str(exc).splitlines()[0]})"
    return ""


def service_env(bench_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # Production settings (DEBUG off) with a throwaway key; plain HTTP on loopback.
    env.update(DATABASE_URL=bench_url, CELERY_TASK_ALWAYS_EAGER="0", DJANGO_SETTINGS_MODULE="crm.settings",
               BENCH_CELERY_QUEUE=QUEUE, LOG_LEVEL="WARNING", AXES_ENABLED="0", DJANGO_DEBUG="0",
               DJANGO_SECRET_KEY=secrets.token_urlsafe(45), DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
               DJANGO_SECURE_SSL_REDIRECT="0")
    env.update(extra)
    return env


def purge_bench_queue() -> int:
    """Drop tasks left on the bench's own queue (never any other queue)."""
    from crm.celery import app

    with app.connection_for_write() as conn:
        try:
            return conn.default_channel.queue_purge(QUEUE) or 0
        except Exception:  # noqa: BLE001 - a queue that does not exist yet has nothing to purge
            return 0


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@contextmanager
def celery_worker(bench_url: str, *, concurrency: int, log_dir: Path, name: str = "w",
                  env: dict[str, str] | None = None) -> Iterator[Service]:
    """A real `celery -A crm worker` (prefork, `concurrency` processes) on the bench queue; `env` adds
    to its environment (figure 8 points EMAIL_URL at its SMTP sink)."""
    log_path = log_dir / f"celery-{name}.log"
    cmd = [sys.executable, "-m", "bench.worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
           "--pool", "prefork", "-Q", QUEUE, "-n", f"bench-{name}-{os.getpid()}@%h",
           "--without-gossip", "--without-mingle", "--without-heartbeat", "--prefetch-multiplier", "1"]
    log_file = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=service_env(bench_url, **(env or {})), stdout=log_file,
                            stderr=subprocess.STDOUT)
    service = Service("celery", proc, log_path)
    try:
        ready = wait_until(lambda: proc.poll() is not None or " ready." in service.log_tail(50), timeout=60, interval=0.2)
        if not ready or proc.poll() is not None:
            raise RuntimeError(f"celery worker did not start:\n{service.log_tail()}")
        yield service
    finally:
        service.stop()
        log_file.close()
