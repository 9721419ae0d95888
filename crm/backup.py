"""Backups of the whole database: pg_dump/pg_restore on PostgreSQL, SQLite's online backup API on
the embedded default. The commands `backup` and `restore` (and `make backup` / `make restore`) call
these; nothing else writes or reads backup files."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

SUFFIX = {"postgresql": ".dump", "sqlite3": ".sqlite3"}


class BackupError(Exception):
    pass


def engine_of(database: dict) -> str:
    engine = database["ENGINE"].rsplit(".", 1)[-1]
    if engine not in SUFFIX:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {engine}")
    return engine


def default_path(database: dict, folder: Path, now: datetime) -> Path:
    return folder / f"saring-{now:%Y%m%d-%H%M%S}{SUFFIX[engine_of(database)]}"


def backup(database: dict, path: Path) -> Path:
    """Write a consistent copy of the database to `path` while the app keeps running."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if engine_of(database) == "postgresql":
        # Custom format: compressed, and pg_restore can restore it into an empty or an older database.
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(path)], database)
    else:
        name = str(database["NAME"])
        # Under tests the database is a shared-cache memory URI ("file:memorydb_default?mode=memory&cache=shared").
        with sqlite3.connect(name, uri=name.startswith("file:")) as source, sqlite3.connect(path) as target:
            source.backup(target)
    return path


def restore(database: dict, path: Path) -> None:
    """Replace the database's content with the backup's. Stop web, worker and beat first."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    if engine_of(database) == "postgresql":
        # --clean --if-exists drops what the backup holds before recreating it; one transaction, so a
        # failed restore leaves the database as it was.
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
              "--exit-on-error", "--dbname", database["NAME"], str(path)], database)
    else:
        with sqlite3.connect(path) as source:
            try:
                intact = source.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            except sqlite3.DatabaseError:
                intact = False
            if not intact:
                raise BackupError(f"{path}: not an intact SQLite database")
            with sqlite3.connect(database["NAME"]) as target:
                source.backup(target)


def _run(command: list[str], database: dict) -> None:
    """Run a PostgreSQL client with the connection taken from the settings (libpq variables, so the
    password never appears in the process list)."""
    env = {**os.environ, "PGDATABASE": database["NAME"]}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if database.get(key):
            env[variable] = str(database[key])
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BackupError(f"{command[0]} not found: install the PostgreSQL client (apt-get install postgresql-client)") from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{command[0]} failed: {exc.stderr.strip()[-2000:]}") from exc
