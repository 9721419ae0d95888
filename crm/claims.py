"""Claiming rows for one worker in one statement: `UPDATE … SET … WHERE … RETURNING id`.

Nurture's email deliveries and the webhooks' deliveries are claimed this way (queued or pending
-> sending) before anything is sent, so a redelivered task or a second worker never gets a row
another one already has. On PostgreSQL the rows are picked by a sub-select `… FOR UPDATE SKIP
LOCKED` inside the same UPDATE: rows another transaction holds at that instant are skipped, not
waited for, and the ones taken are re-checked against the filter on their newest version. SQLite
has no row locks and one writer at a time, so the plain conditional UPDATE has the same meaning
there (the embedded default's `BEGIN IMMEDIATE` takes the write lock up front)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import QuerySet
from django.db.models.sql import UpdateQuery


def claim(rows: QuerySet, **changes: Any) -> list:
    """Apply `changes` (field=value or F() expressions, as in QuerySet.update) to the rows of `rows`
    that no other transaction holds, in one statement; return the primary keys it changed.

    Inside a caller's transaction the claim is part of it; otherwise it commits on return."""
    if not changes:
        raise ValueError("claim() needs the changes that mark a row as claimed")
    # The database writes go to (an explicit using(), else the router's db_for_write): a queryset for
    # update, as select_for_update() marks it, never reads from the replica.
    model, using = rows.model, rows.select_for_update().db
    connection = connections[using]
    rows = rows.order_by()  # no ORDER BY in an UPDATE or an IN (…) sub-select
    # atomic: FOR UPDATE needs a transaction, and on SQLite it takes the write lock before reading.
    with transaction.atomic(using=using):
        if connection.features.has_select_for_update_skip_locked:
            rows = model._base_manager.using(using).filter(pk__in=rows.select_for_update(skip_locked=True).values("pk"))
        # What QuerySet.update() does, plus RETURNING: Django's update() returns a count, not the rows,
        # and a SELECT before the UPDATE would be a second round trip (and, without the lock, a race).
        query = rows.query.chain(UpdateQuery)
        query.add_update_values(changes)
        try:
            sql, params = query.get_compiler(using).as_sql()
        except EmptyResultSet:  # a filter that matches nothing by construction (pk__in=[])
            return []
        pk = connection.ops.quote_name(model._meta.pk.column)
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} RETURNING {pk}", params)
            return [row[0] for row in cursor.fetchall()]
