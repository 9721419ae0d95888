"""Fixtures of the fault tests: one throwaway PostgreSQL cluster per session (a migrated
template database, copied per test), a fresh Redis per test, and a pool of worker and
gunicorn processes stopped at teardown. Never the shared services on 5432/6379."""

from __future__ import annotations

import contextlib
import itertools
import shutil

import pytest

from tests.conftest import skip_or_fail
from tests.faults.faultkit import PostgresCluster, ProcessPool, RedisServer, django_env, find_pg_bin, manage, run_driver

TEMPLATE_DB = "saring_faults_template"
FIGURES: list[tuple[str, dict]] = []
_db_names = itertools.count(1)


def pytest_collection_modifyitems(items):
    """Under pytest-xdist (`make test JOBS=2`, --dist loadgroup) every fault test goes to the same
    process: the throwaway cluster is built once, and no two fault tests load the machine at once."""
    for item in items:
        if item.get_closest_marker("faults"):
            item.add_marker(pytest.mark.xdist_group("faults"))


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("fault and load figures")
        for title, figures in FIGURES:
            terminalreporter.write_line(f"{title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture
def figures(record_property):
    """figures(title, {...}): print, attach to the junit report, and repeat in the summary."""

    def emit(title: str, values: dict) -> None:
        print(f"\n[faults] {title}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
        for key, value in values.items():
            record_property(key, value)
        FIGURES.append((title, values))

    return emit


@pytest.fixture(scope="session")
def pg_cluster():
    bin_dir = find_pg_bin()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    try:
        cluster = PostgresCluster(bin_dir)
    except KeyError:
        skip_or_fail("running as root needs a `postgres` OS user for initdb (initdb refuses root)")
    try:
        cluster.init()
        cluster.start()
        cluster.create_database(TEMPLATE_DB)
        # Migrate and load the playbooks once; every test copies this database.
        env = django_env(cluster.url(TEMPLATE_DB), None)
        manage(env, "migrate", "--noinput")
        cluster.setup = run_driver(env, "setup")
        cluster.template = TEMPLATE_DB
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def fault_db(pg_cluster):
    """A fresh copy of the migrated template; returns its DATABASE_URL."""
    if not pg_cluster.is_running():
        pg_cluster.start()
    name = f"saring_faults_{next(_db_names)}"
    pg_cluster.create_database(name, template=TEMPLATE_DB)
    yield pg_cluster.url(name)
    # A test that stopped the server leaves it running again for the next one.
    if not pg_cluster.is_running():
        pg_cluster.start()


@pytest.fixture
def redis_server():
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("redis-server is not installed")
    server = RedisServer(binary)
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def procs(tmp_path):
    pool = ProcessPool(root=tmp_path)
    yield pool
    pool.stop_all()
    # Shown by pytest only when the test failed: the tail of every child's log.
    for log in sorted(tmp_path.glob("*.log")):
        with contextlib.suppress(OSError):
            print(f"--- {log.name} (tail) ---\n" + log.read_text(errors="replace")[-2500:])


@pytest.fixture
def env_for(fault_db):
    """env_for(redis_or_None, **extra): the environment of a Django process on this test's services."""

    def make(redis: RedisServer | None, **extra: str) -> dict[str, str]:
        return django_env(fault_db, redis.url if redis else None, **extra)

    return make


@pytest.fixture
def driver():
    return run_driver
