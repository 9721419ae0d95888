"""`manage.py backup` and `restore` on the engine in use (SQLite on the embedded default, PostgreSQL in
CI's second pass): a backup restored into a fresh, empty database holds every contact, interaction and
score, and `check_scores` is clean there. Restore and the check run as an operator runs them: as
separate processes pointed at the fresh database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from contacts.models import Contact, Interaction

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def manage(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def fresh_database(tmp_path):
    """An empty database of the same engine: its URL and a function that runs SQL on it."""
    if connection.vendor == "sqlite":
        path = tmp_path / "fresh.sqlite3"

        def query(sql):
            with sqlite3.connect(path) as conn:
                return conn.execute(sql).fetchall()

        yield f"sqlite:///{path}", query
        return
    import psycopg2

    params = connection.settings_dict
    name = f"saring_restore_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres", host=params["HOST"], port=params["PORT"] or 5432,
                             user=params["USER"], password=params["PASSWORD"])
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    auth = f"{params['USER']}:{params['PASSWORD']}@" if params["PASSWORD"] else f"{params['USER']}@"

    def query(sql):
        with psycopg2.connect(dbname=name, host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"],
                              password=params["PASSWORD"]) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    try:
        yield f"postgres://{auth}{params['HOST']}:{params['PORT'] or 5432}/{name}", query
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.slow
def test_a_backup_restored_into_a_fresh_database_holds_everything(transactional_db, reference_data, tmp_path,
                                                                   fresh_database):
    call_command("seed_demo", contacts=120, seed=7)
    contacts = sorted(Contact.objects.values_list("pk", "score", "stage", "email"))
    interactions = Interaction.objects.count()
    assert len(contacts) == 120 and interactions > 120
    assert {stage for _, _, stage, _ in contacts} >= {"contact", "lead"}, "the demo data should span stages"

    dump = tmp_path / "saring.backup"
    call_command("backup", str(dump))
    assert dump.stat().st_size > 0

    url, query = fresh_database
    restored = manage("restore", str(dump), "--yes", database_url=url)
    assert restored.returncode == 0, restored.stderr

    rows = query("SELECT id, score, stage, email FROM contacts_contact ORDER BY id")
    assert [(pk, float(score), stage, email) for pk, score, stage, email in rows] == \
        [(pk, float(score), stage, email) for pk, score, stage, email in contacts]
    assert query("SELECT count(*) FROM contacts_interaction")[0][0] == interactions

    checked = manage("check_scores", database_url=url)
    assert checked.returncode == 0, checked.stderr
    assert f"All {sum(1 for c in contacts if c[1] is not None)} scored contacts reconcile" in checked.stdout

    migrations = manage("migrate", "--check", database_url=url)
    assert migrations.returncode == 0, "a restored backup of this version needs no migration:\n" + migrations.stdout


def test_restore_refuses_a_missing_file_and_a_file_that_is_not_a_backup(db, tmp_path):
    url = f"sqlite:///{tmp_path / 'target.sqlite3'}" if connection.vendor == "sqlite" else None
    if url is None:
        params = connection.settings_dict
        url = f"postgres://{params['USER']}@{params['HOST']}:{params['PORT'] or 5432}/{params['NAME']}"
    missing = manage("restore", str(tmp_path / "nope.dump"), "--yes", database_url=url)
    assert missing.returncode != 0 and "no such backup file" in missing.stderr

    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"this is not a database\n" * 100)
    refused = manage("restore", str(junk), "--yes", database_url=url)
    assert refused.returncode != 0
    assert "not an intact SQLite database" in refused.stderr or "pg_restore failed" in refused.stderr
