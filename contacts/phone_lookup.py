"""Looking contacts up by a list of phone numbers through the unique index.

The search's trigram index on phone (migration 0014) also answers equality, and for `phone IN (…)`
the planner picks a bitmap scan over the trigrams ("+62" is in every number): 20 s for 700 phones
at 200,000 contacts, against milliseconds through the unique index (docs/performance.md, figure 5).
The importer's per-chunk lookup and the API's batch checks read phones this way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def plain_index_scans() -> Iterator[None]:
    """On PostgreSQL, no bitmap scans for the statements inside (restored after; see the module)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_bitmapscan')")
        before = cursor.fetchone()[0]
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        yield
        cursor.execute("SELECT set_config('enable_bitmapscan', %s, true)", [before])
