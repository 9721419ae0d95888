"""The search text: each contact's name, email, company and phone in one row of
contacts_contactsearch (contacts.models.ContactSearch), with the one trigram index the search reads.

Database triggers keep it, in the statement of every write (services, the importer's bulk INSERT,
merge, erasure, the bench's COPY is the one exception and rebuilds it): an insert adds the rows; an
UPDATE that sets one of the four columns rewrites that row; a delete removes them. The scorer's
UPDATE sets none of them, so a rescore never touches this table or its index (the reason the table
exists: docs/decisions.md, "The search text"). PostgreSQL inserts and deletes are statement-level
(one statement per batch); SQLite has row triggers only.

`search_ids(*alternatives)` is the index's side of a search: the ids of contacts whose text holds
every string of one of the alternatives. Callers AND it with the exact condition on the contact's
own columns (the text joins the four columns, so a string could otherwise span two of them).
"""

from __future__ import annotations

import re
from functools import reduce
from operator import and_, or_

from django.db import connection, transaction
from django.db.models import F, Lookup, Q, QuerySet

COLUMNS = ("full_name", "email", "company", "phone")
TABLE = "contacts_contactsearch"
INDEX = "contact_search_trgm"
TRIGGERS = ("contacts_search_ins", "contacts_search_upd", "contacts_search_del")  # on insert, update, delete


def text_sql(row: str, vendor: str) -> str:
    """The search text of `row` (NEW, OLD, a table alias): the columns, one per line."""
    newline = "chr(10)" if vendor == "postgresql" else "char(10)"
    return f" || {newline} || ".join(f"coalesce({row}.{column}, '')" for column in COLUMNS)


def _changed(vendor: str) -> str:
    distinct = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{column} {distinct} NEW.{column}" for column in COLUMNS)


def _pg_functions() -> list[str]:
    from contacts.rollup import NO_JIT  # the same reason as the rollup's triggers

    new, new_row = text_sql("n", "postgresql"), text_sql("NEW", "postgresql")
    return [
        # Inserts: one statement per INSERT statement (the importer's chunk of 1,000 is one).
        f"""CREATE OR REPLACE FUNCTION contacts_search_ins() RETURNS trigger LANGUAGE plpgsql {NO_JIT} AS $$ BEGIN
            INSERT INTO {TABLE} (contact_id, text) SELECT n.id, {new} FROM new_rows n
            ON CONFLICT (contact_id) DO UPDATE SET text = EXCLUDED.text; RETURN NULL; END $$""",
        # Updates: a row trigger with a column list fires only for statements that set one of the
        # columns (a transition table cannot have a column list), and WHEN skips unchanged values.
        f"""CREATE OR REPLACE FUNCTION contacts_search_upd() RETURNS trigger LANGUAGE plpgsql {NO_JIT} AS $$ BEGIN
            INSERT INTO {TABLE} (contact_id, text) VALUES (NEW.id, {new_row})
            ON CONFLICT (contact_id) DO UPDATE SET text = EXCLUDED.text; RETURN NULL; END $$""",
        # Deletes: by primary key (= ANY(array)): the planner knows nothing of old_rows' size.
        f"""CREATE OR REPLACE FUNCTION contacts_search_del() RETURNS trigger LANGUAGE plpgsql {NO_JIT} AS $$ BEGIN
            DELETE FROM {TABLE} WHERE contact_id = ANY(ARRAY(SELECT id FROM old_rows)); RETURN NULL; END $$""",
    ]


def _pg_triggers() -> dict[str, str]:
    """TRIGGERS' definitions, by name."""
    return {
        "contacts_search_ins": "CREATE TRIGGER contacts_search_ins AFTER INSERT ON contacts_contact"
                               " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_search_ins()",
        "contacts_search_upd": f"CREATE TRIGGER contacts_search_upd AFTER UPDATE OF {', '.join(COLUMNS)} ON contacts_contact"
                               f" FOR EACH ROW WHEN ({_changed('postgresql')}) EXECUTE FUNCTION contacts_search_upd()",
        "contacts_search_del": "CREATE TRIGGER contacts_search_del AFTER DELETE ON contacts_contact"
                               " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_search_del()",
    }


def _sqlite_statements() -> list[str]:
    upsert = f"INSERT OR REPLACE INTO {TABLE} (contact_id, text) VALUES (NEW.id, {text_sql('NEW', 'sqlite')});"
    return [
        "DROP TRIGGER IF EXISTS contacts_search_ins",
        f"CREATE TRIGGER contacts_search_ins AFTER INSERT ON contacts_contact BEGIN {upsert} END",
        "DROP TRIGGER IF EXISTS contacts_search_upd",
        f"CREATE TRIGGER contacts_search_upd AFTER UPDATE OF {', '.join(COLUMNS)} ON contacts_contact"
        f" WHEN {_changed('sqlite')} BEGIN {upsert} END",
        "DROP TRIGGER IF EXISTS contacts_search_del",
        f"CREATE TRIGGER contacts_search_del AFTER DELETE ON contacts_contact BEGIN"
        f" DELETE FROM {TABLE} WHERE contact_id = OLD.id; END",
    ]


def triggers_install(conn=None) -> None:
    """(Re)create the triggers; idempotent (the migrations call it). On PostgreSQL the functions are
    replaced and only a missing trigger is created (DROP TRIGGER would lock contacts, as in
    contacts.rollup.triggers_install)."""
    conn = conn or connection
    if conn.vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"the search text has no triggers for {conn.vendor}")
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            for statement in _sqlite_statements():
                cursor.execute(statement)
            return
        for statement in _pg_functions():
            cursor.execute(statement)
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'contacts_search_%%' AND NOT tgisinternal")
        present = {row[0] for row in cursor.fetchall()}
        for name, statement in _pg_triggers().items():
            if name not in present:
                cursor.execute(statement)


def triggers_remove(conn=None) -> None:
    conn = conn or connection
    with conn.cursor() as cursor:
        for name in TRIGGERS:
            if conn.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON contacts_contact")
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def rebuild_sql(vendor: str) -> list[str]:
    """Recompute every row from contacts (after a load with triggers off, e.g. the bench's COPY)."""
    return [f"DELETE FROM {TABLE}",
            f"INSERT INTO {TABLE} (contact_id, text) SELECT c.id, {text_sql('c', vendor)} FROM contacts_contact c"]


def index_sql() -> str:
    """PostgreSQL's trigram index. Django's icontains compiles to UPPER(text::text) LIKE UPPER(…)."""
    return f"CREATE INDEX IF NOT EXISTS {INDEX} ON {TABLE} USING gin (UPPER(text) gin_trgm_ops)"


def search_ids(*alternatives: tuple[str, ...]) -> QuerySet:
    """Ids (a subquery) of contacts whose search text contains, in any case, every string of at least
    one alternative."""
    from contacts.models import ContactSearch

    condition = reduce(or_, (reduce(and_, (Q(text__icontains=s) for s in strings)) for strings in alternatives))
    return ContactSearch.objects.filter(condition).values_list("contact_id", flat=True)


CANDIDATES = 10_000


def matching(*alternatives: tuple[str, ...]) -> Q:
    """The condition "the search text holds one of the alternatives", for a filter on contacts that
    also carries the exact condition on the contact's own columns (callers AND it).

    The ids are read first, through the trigram index, and given to the contacts query as a list:
    the planner cannot estimate a trigram match (it guessed 1,625 rows for 92), and given a subquery
    it scanned every contact to hash-join them to the matches. A term found in more than CANDIDATES
    contacts adds no condition: it is common enough that the exact condition alone finds a page (or
    the search's 501 keys) after a short walk of the table or of the newest-change index, where a
    join would first read every match. Bitmap scans only when every string has a trigram (three
    letters or digits in a row): with none, the index would be read whole, and the narrow table's
    scan is cheaper."""
    ids = search_ids(*alternatives)
    indexed = connection.vendor == "postgresql" and all(_has_trigram(s) for strings in alternatives for s in strings)
    if not indexed:
        found = list(ids[:CANDIDATES + 1])
    else:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('enable_seqscan', 'off', true)")
            try:
                found = list(ids[:CANDIDATES + 1])
            finally:  # SET LOCAL outlives a savepoint: back to on for the rest of a caller's transaction
                cursor.execute("SELECT set_config('enable_seqscan', 'on', true)")
    if len(found) > CANDIDATES:
        return Q()
    if connection.vendor == "postgresql":
        return Q(AnyOf(F("pk"), found))
    return Q(pk__in=found)


class AnyOf(Lookup):
    """`column = ANY(%s)` with the values as one array parameter: for thousands of ids, Django's
    `IN (%s, %s, …)` cost 60 ms to compile and 30 ms to send at 6,000 ids, the array 11 ms in all."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def _has_trigram(string: str) -> bool:
    return any(len(word) >= 3 for word in _WORDS.findall(string))


_WORDS = re.compile(r"[^\W_]+")
