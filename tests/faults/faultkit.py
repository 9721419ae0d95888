"""Throwaway services for the fault tests: a PostgreSQL cluster, Redis, Celery workers
and gunicorn, each on a spare loopback port, each stoppable and restartable.

Nothing here touches the machine's shared services (5432, 6379): every server is
started from its binary into a temporary folder and stopped at teardown.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DRIVER = str(Path(__file__).with_name("driver.py"))
SHARED_PORTS = {5432, 6379}


def free_port() -> int:
    """A port nobody listens on now (never one of the shared services' ports)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in SHARED_PORTS:
            return port


def wait_for(predicate: Callable[[], object], *, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy; returns its value. Raises TimeoutError with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kill_group(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    """Stop a process started with start_new_session=True, children included."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- PostgreSQL -----------------------------------------------------------------

def find_pg_bin() -> Path | None:
    """The newest server install's bin folder (Debian keeps it off PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class PostgresCluster:
    """initdb into a temp folder, pg_ctl start/stop on a spare port, trust auth on loopback.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres`
    OS user and the pg_* commands run through `runuser -u postgres --`."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="saring-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]

    def _pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.run_as, str(self.bin_dir / tool), *args], capture_output=True, text=True, check=check,
                              timeout=120)

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--locale=C")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def is_running(self) -> bool:
        return self._pg("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, connect_timeout=5)
        conn.autocommit = True
        return conn

    def create_database(self, name: str, template: str | None = None) -> None:
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))

    def destroy(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def replica(self) -> PostgresCluster:
        """A streaming replica of this (running) cluster, not started: `pg_basebackup -R` (the
        standby.signal and primary_conninfo it writes make it a hot standby that follows us)."""
        replica = PostgresCluster(self.bin_dir)
        replica._pg("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-D", str(replica.data),
                    "-R", "-X", "stream", "-c", "fast", "--no-sync")
        return replica


# --- Redis --------------------------------------------------------------------------

class RedisServer:
    """redis-server on a spare port without persistence; stop() kills it, start() brings
    it back on the same port (empty, as after a crash without persistence)."""

    def __init__(self, binary: str):
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.root = Path(tempfile.mkdtemp(prefix="saring-redis-"))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.root / "redis.log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.root)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_for(lambda: port_open(self.port), timeout=15, what=f"redis on {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc, signal.SIGKILL)
            self.proc = None

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def waiting(self) -> int:
        """Messages not yet delivered to a worker."""
        r = self.client()
        return sum(r.llen(key) for key in r.scan_iter(match="celery*") if r.type(key) == b"list")

    def queue_depth(self) -> int:
        """Messages waiting plus delivered but not yet acknowledged (acks_late)."""
        return self.waiting() + self.client().hlen("unacked")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# --- Django processes ------------------------------------------------------------

def django_env(database_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a Django process bound to the throwaway services only."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "CELERY_", "CRM_", "DJANGO_", "PYTEST", "AXES_"))}
    # DJANGO_DEBUG=1: development settings (the dev secret key); DEBUG is off when it is unset.
    env.update(DJANGO_SETTINGS_MODULE="crm.settings", DJANGO_DEBUG="1", DATABASE_URL=database_url, PYTHONPATH=str(REPO),
               PYTHONUNBUFFERED="1", LOG_LEVEL="INFO")
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


def sql(database_url: str, query: str, params: tuple = ()) -> list[tuple]:
    """One query on a throwaway database from the test process (for polling progress)."""
    import psycopg2

    with contextlib.closing(psycopg2.connect(database_url, connect_timeout=5)) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows


def sql_value(database_url: str, query: str, params: tuple = ()):
    return sql(database_url, query, params)[0][0]


def run_driver(env: dict[str, str], *args: str, timeout: float = 600) -> dict:
    """Run tests/faults/driver.py in a fresh Django process; its last stdout line is JSON."""
    done = subprocess.run([PYTHON, DRIVER, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"driver {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"driver {' '.join(args)} printed no JSON:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done.stdout


@dataclass
class Proc:
    """A long-running child (worker or gunicorn) with its own log file."""

    name: str
    proc: subprocess.Popen
    logfile: Path

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL the whole process group: the main process and its pool children."""
        _kill_group(self.proc, sig)

    def stop(self) -> None:
        _kill_group(self.proc, signal.SIGTERM, timeout=20)


@dataclass
class ProcessPool:
    """Every child started by a test, stopped at teardown whatever happened."""

    root: Path
    children: list[Proc] = field(default_factory=list)
    counter: int = 0

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        self.counter += 1
        logfile = self.root / f"{self.counter:02d}-{name}.log"
        with open(logfile, "ab") as out:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        child = Proc(name, proc, logfile)
        self.children.append(child)
        return child

    def worker(self, env: dict[str, str], *, name: str, queue: str = "celery", concurrency: int = 1) -> Proc:
        argv = [str(VENV_BIN / "celery"), "-A", "crm", "worker", "--pool=prefork", "-c", str(concurrency), "-Q", queue,
                "-n", f"{name}@saring-faults", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
        child = self._spawn(name, argv, env)
        wait_for(lambda: "ready." in child.log() or not child.alive(), timeout=60, what=f"worker {name} ready")
        if not child.alive():
            raise RuntimeError(f"worker {name} died at start:\n{child.log()[-4000:]}")
        return child

    def gunicorn(self, env: dict[str, str], *, port: int, workers: int = 2, threads: int = 4) -> Proc:
        argv = [str(VENV_BIN / "gunicorn"), "crm.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(workers),
                "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5"]
        child = self._spawn("gunicorn", argv, env)

        def up() -> bool:
            if not child.alive():
                raise RuntimeError(f"gunicorn died at start:\n{child.log()[-4000:]}")
            return port_open(port)

        wait_for(up, timeout=60, what="gunicorn listening")
        return child

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()

