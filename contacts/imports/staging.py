"""The importer's insert of new people, set-based: the chunk's contacts go into a temporary
staging table, then one `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` moves them into
contacts_contact. Same SQL on PostgreSQL and SQLite; only loading the staging table differs
(`_stage_load`: COPY on PostgreSQL, executemany on SQLite). A row whose email, phone or reference
a concurrent writer took meanwhile is not inserted and comes back to the caller, which merges it
row by row like any upsert (docs/decisions.md, "The importer's staging table").

Why: Django's bulk_create compiled ~40 bound parameters a row and psycopg2 quoted each one
(~30 % of an import's Python time); COPY sends one line of text a row (docs/performance.md)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection, models

from contacts.models import Contact

STAGE = "contacts_import_stage"
RETURNED = ("id", "email", "phone", "external_source", "external_ref")


def _fields() -> list[models.Field]:
    """Every stored column of a contact but its id (in the model's order)."""
    return [f for f in Contact._meta.concrete_fields if not f.primary_key]


def _identity(email: str | None, phone: str | None, source: str, ref: str | None) -> tuple:
    """What tells an imported new contact apart inside its chunk (the importer's new rows share none)."""
    if email:
        return ("email", email)
    if phone:
        return ("phone", phone)
    return ("ref", source or "", ref)


def _sqlite_converters(fields: Sequence[models.Field]) -> list[Any]:
    """Per column, how to get its value from a contact for SQLite's executemany: pre_save for
    auto_now dates, JSON as text, otherwise Django's adapter."""
    converters = []
    for f in fields:
        if isinstance(f, models.JSONField):
            converters.append(lambda c, f=f: None if (v := getattr(c, f.attname)) is None else json.dumps(v, cls=f.encoder))
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            converters.append(lambda c, f=f: f.get_db_prep_save(f.pre_save(c, add=True), connection))
        else:
            converters.append(lambda c, f=f: f.get_db_prep_save(getattr(c, f.attname), connection))
    return converters


_AS_TEXT = {models.CharField, models.EmailField, models.TextField}
_AS_NUMBER = {models.IntegerField, models.BigIntegerField, models.ForeignKey}


def _texts(f: models.Field, contacts: Sequence[Contact]) -> list[str | None]:
    """One column's values as text (None for NULL), unescaped. Built column by column, each with
    one comprehension for its type: a function call per cell cost half of an import's COPY."""
    if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
        return [None if (v := f.pre_save(c, add=True)) is None else v.isoformat() for c in contacts]
    values = [getattr(c, f.attname) for c in contacts]
    kind = type(f)
    if kind in _AS_TEXT:
        return [None if v is None else str(v) for v in values]
    if kind is models.BooleanField:
        return [None if v is None else "t" if v is True else "f" if v is False else str(v) for v in values]
    if kind in _AS_NUMBER:
        return [None if v is None else str(v) for v in values]
    if kind is models.DateTimeField:
        seen: dict[datetime, str] = {}  # a chunk's contacts share a few moments (scored_at, stage_changed_at)
        return [None if v is None else seen.get(v) or seen.setdefault(v, v.isoformat()) for v in values]
    if isinstance(f, models.JSONField):
        return [None if v is None else "{}" if v == {} else json.dumps(v, cls=f.encoder) for v in values]
    prepared = [f.get_db_prep_save(v, connection) for v in values]
    return [None if v is None else _copy_text(v) for v in prepared]


def _copy_text(value: Any) -> str:
    """One value as text for COPY (not yet escaped)."""
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _escaped(texts: list[str | None]) -> list[str]:
    """A column for COPY's text format: backslash, tab and line breaks escaped, NULL as \\N.
    One check over the whole column first: most columns hold none of those characters."""
    joined = "".join(t for t in texts if t is not None)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        texts = [None if t is None else
                 t.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
                 for t in texts]
    return ["\\N" if t is None else t for t in texts]


def _copy_lines(contacts: Sequence[Contact], fields: Sequence[models.Field]) -> str:
    """The staging table's rows in COPY's text format: row number, then the fields' columns."""
    columns = [[str(n) for n in range(len(contacts))], *(_escaped(_texts(f, contacts)) for f in fields)]
    return "".join("\t".join(row) + "\n" for row in zip(*columns, strict=True))


def _stage_load(cursor, columns: Sequence[str], contacts: Sequence[Contact], fields: Sequence[models.Field]) -> None:
    """Fill the (empty) staging table: the one step that differs between the databases."""
    if connection.vendor == "postgresql":
        buffer = io.StringIO(_copy_lines(contacts, fields))
        cursor.cursor.copy_expert(f"COPY {STAGE} ({', '.join(columns)}) FROM STDIN", buffer)
    else:
        converters = _sqlite_converters(fields)
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {STAGE} ({', '.join(columns)}) VALUES ({marks})",
                           [[number, *(convert(contact) for convert in converters)] for number, contact in enumerate(contacts)])


def contacts_insert_staged(contacts: Sequence[Contact]) -> list[Contact]:
    """Insert new, unsaved contacts (each with an email, phone or reference no other of them has)
    in file order; each inserted one gets its id. Returns those not inserted: their email, phone or
    reference belongs to a contact written meanwhile. The caller holds the transaction."""
    if not contacts:
        return []
    fields = _fields()
    columns = [connection.ops.quote_name(f.column) for f in fields]
    listed = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Temporary: private to this connection, built per chunk (so it has the contact table's current
            # columns) and dropped after the insert, or at commit if an error interrupts.
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} ON COMMIT DROP AS"
                           f" SELECT 0 AS row_no, {listed} FROM contacts_contact WITH NO DATA")
        else:
            cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} AS"
                           f" SELECT 0 AS row_no, {listed} FROM contacts_contact WHERE 0")
        cursor.execute(f"DELETE FROM {STAGE}")  # left by an interrupted call inside a caller's longer transaction
        _stage_load(cursor, ["row_no", *columns], contacts, fields)
        # "WHERE true": SQLite needs it before ON CONFLICT after a SELECT. ORDER BY: ids in file order.
        cursor.execute(f"INSERT INTO contacts_contact ({listed}) SELECT {listed} FROM {STAGE} WHERE true"
                       f" ORDER BY row_no ON CONFLICT DO NOTHING RETURNING {', '.join(RETURNED)}")
        inserted = {_identity(email, phone, source, ref): pk for pk, email, phone, source, ref in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {STAGE}")  # SQLite keeps temporary tables for the connection's life
    refused = []
    for contact in contacts:
        pk = inserted.get(_identity(contact.email, contact.phone, contact.external_source, contact.external_ref))
        if pk is None:
            refused.append(contact)
            continue
        contact.pk = pk
        contact._state.adding, contact._state.db = False, connection.alias
    return refused
