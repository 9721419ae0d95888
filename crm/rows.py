"""One row INSERTed in one statement, as Model.save() writes it (each field's pre_save and
database preparation, the primary key read back), without save()'s query compiler and signals:
for the rows written on every request (an event, its audit row), where the ORM's compiler
cost more CPU than the INSERT. Models written this way have no pre_save or post_save receivers."""

from __future__ import annotations

from functools import cache

from django.db import connection, models


@cache
def _statement(model: type[models.Model], vendor: str, unless_taken: bool) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
           f" VALUES ({', '.join(['%s'] * len(fields))})"
           f"{' ON CONFLICT DO NOTHING' if unless_taken else ''} RETURNING {quote(model._meta.pk.column)}")
    return sql, fields


def row_insert(instance: models.Model, *, unless_taken: bool = False) -> bool:
    """INSERT `instance` and set its primary key. `unless_taken`: ON CONFLICT DO NOTHING (PostgreSQL
    and SQLite alike): when a unique key is taken nothing is written and the answer is False, with
    no savepoint and no IntegrityError; a concurrent writer of the same key is waited for, not raced."""
    sql, fields = _statement(type(instance), connection.vendor, unless_taken)
    with connection.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields])
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True
