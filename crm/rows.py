"""Rows written and read on every request (an event, its audit row, the contact and kind it
names) in statements built once per model, without the ORM's query compiler, which cost more
CPU than the statements themselves (docs/decisions.md, "An event's own rows written without the
ORM's compiler").

row_insert: one row INSERTed as Model.save() writes it (each field's pre_save and database
preparation, the primary key read back), without save()'s signals: models written this way have
no pre_save or post_save receivers.
rows_in: instances whose column is one of some values, as QuerySet.filter(...).only(...) reads them
(the database's and the fields' converters applied), on the default database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

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


def _field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.pk if name == "pk" else model._meta.get_field(name)


@cache
def _select(model: type[models.Model], vendor: str, names: tuple[str, ...], key: str,
            also: tuple[tuple[str, bool], ...], slots: int) -> tuple[str, tuple[tuple[models.Field, Any], ...]]:
    meta, quote = model._meta, connection.ops.quote_name
    named = {_field(model, name) for name in names}  # an unknown name raises, as only() does
    # Columns in the model's own order: Model.from_db fills the fields left out as deferred.
    fields = [f for f in meta.concrete_fields if not names or f.primary_key or f in named]
    where = [f"{quote(_field(model, key).column)} IN ({', '.join(['%s'] * slots)})"]
    where += [f"{quote(_field(model, name).column)} {'IS NULL' if null else '= %s'}" for name, null in also]
    sql = f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(meta.db_table)} WHERE {' AND '.join(where)}"
    return sql, tuple((f, f.get_col(meta.db_table)) for f in fields)


def rows_in(model: type[models.Model], key: str, values: Iterable[Any], *, fields: Sequence[str] = (),
            also: Mapping[str, Any] | None = None) -> list[models.Model]:
    """`model.objects.filter(<key>__in=values, **also).only(*fields)`, unordered, on the default
    database: the primary key and `fields` (every field when none are named) are loaded, the
    rest deferred. `also` holds equality conditions by field name (e.g. {"owner": user.pk};
    None means IS NULL, as in filter())."""
    values = list(dict.fromkeys(values))
    if not values:
        return []
    also = dict(also or {})
    # IN lists of 1, 2, 4, 8 … slots (the last value repeated): a few statements per model, not one per count.
    slots = 1 << (len(values) - 1).bit_length()
    sql, columns = _select(model, connection.vendor, tuple(fields), key,
                           tuple((name, value is None) for name, value in also.items()), slots)
    prep = _field(model, key).get_db_prep_value
    params = [prep(value, connection) for value in values]
    params += params[-1:] * (slots - len(values))
    params += [_field(model, name).get_db_prep_value(value, connection) for name, value in also.items() if value is not None]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # What the compiler applies to each value read: this connection's converters, then the field's.
    converters = [(col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)) for _f, col in columns]
    attnames = [field.attname for field, _col in columns]
    return [model.from_db(connection.alias, attnames, [_converted(value, *column) for value, column in zip(row, converters, strict=True)])
            for row in rows]


def _converted(value: Any, col: Any, converters: list[Any]) -> Any:
    for convert in converters:
        value = convert(value, col, connection)
    return value
