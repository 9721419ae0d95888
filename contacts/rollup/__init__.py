"""The stage rollup: contacts per (day created, industry, source, owner, stage) and stage moves
per (day moved, industry, source, owner, from, to), for the dashboard and the stage list's counts.

Kept by database triggers, in the transaction (and, on PostgreSQL, the statement) of every write
to contacts and stage changes: the services, the bulk scorer's UPDATE … FROM, the importer's
bulk INSERT, merge, undo, erasure, a rollback, Django's SET NULL when a user is deleted. On
PostgreSQL they are statement-level triggers over transition tables, so a batch of 2,000 scored
contacts costs one INSERT … SELECT … GROUP BY; SQLite has row triggers only (the embedded default
is small). Both append deltas (+n/-n rows) to a log, so writers never wait on each other's rows;
rollup_compact folds the log every minute and rollup_reconcile recomputes it nightly with
GROUP BY and logs any drift (a bulk load with triggers off, e.g. the bench's COPY).
docs/decisions.md, "The stage rollup".
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet, Sum

from contacts.models import StageCount, StageMove

log = logging.getLogger(__name__)

COUNT_KEY = ("day", "industry", "source", "owner_id", "stage")
MOVE_KEY = ("day", "industry", "source", "owner_id", "from_stage", "to_stage")


def rollup_zone() -> str:
    """The time zone whose local dates the rollup's `day` holds (TIME_ZONE)."""
    return settings.TIME_ZONE


def _day(column: str, vendor: str) -> str:
    """SQL for the local date of a timestamp column, the same in triggers and in the reconcile."""
    zone = rollup_zone()
    if vendor == "postgresql":
        return f"(({column}) AT TIME ZONE '{zone}')::date"
    # SQLite stores UTC text; the zone's offset now (Asia/Jakarta has no daylight saving time).
    offset = int(datetime.now(ZoneInfo(zone)).utcoffset().total_seconds() // 60)
    return f"date({column}, '{offset:+d} minutes')"


# --- Triggers -------------------------------------------------------------------------

# Every trigger function runs with JIT off. PL/pgSQL keeps a statement's plan for the session, and a
# plan made while a transition table held 50,000 rows is costly enough to be JIT-compiled, again at
# every later run: the same connection then spent ~400 ms compiling for each one-contact update
# (a rep's stage change, an event) after a bulk action over many contacts. docs/decisions.md,
# "Trigger functions run without JIT".
NO_JIT = "SET jit = off"

_PG_FUNCTIONS = {
    # contacts: counts per key; when industry, source or owner change, the contact's moves follow.
    "contacts_rollup_contact_ins": """
        INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n)
        SELECT {day_created}, industry, source, COALESCE(owner_id, 0), stage, count(*)
        FROM new_rows GROUP BY 1, 2, 3, 4, 5;""",
    "contacts_rollup_contact_del": """
        INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n)
        SELECT {day_created}, industry, source, COALESCE(owner_id, 0), stage, -count(*)
        FROM old_rows GROUP BY 1, 2, 3, 4, 5;""",
    "contacts_rollup_contact_upd": """
        INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n)
        SELECT day, industry, source, owner_id, stage, sum(d) FROM (
            SELECT {day_o_created} AS day, o.industry, o.source, COALESCE(o.owner_id, 0) AS owner_id, o.stage, -1 AS d
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.created_at, o.industry, o.source, o.owner_id, o.stage) IS DISTINCT FROM
                  (n.created_at, n.industry, n.source, n.owner_id, n.stage)
            UNION ALL
            SELECT {day_n_created}, n.industry, n.source, COALESCE(n.owner_id, 0), n.stage, 1
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.created_at, o.industry, o.source, o.owner_id, o.stage) IS DISTINCT FROM
                  (n.created_at, n.industry, n.source, n.owner_id, n.stage)
        ) AS delta GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0;
        -- Contacts whose industry, source or owner changed take their moves along. Their ids in an
        -- array, so stage changes are read by index for exactly them (a join would let the planner
        -- walk the whole index when it misjudges the transition tables' sizes).
        moved := ARRAY(SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
                       WHERE (o.industry, o.source, o.owner_id) IS DISTINCT FROM (n.industry, n.source, n.owner_id));
        IF cardinality(moved) > 0 THEN
            INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
            SELECT day, industry, source, owner_id, from_stage, to_stage, sum(d) FROM (
                SELECT {day_s_changed} AS day, o.industry, o.source, COALESCE(o.owner_id, 0) AS owner_id,
                       s.from_stage, s.to_stage, -1 AS d
                FROM contacts_stagechange s JOIN old_rows o ON o.id = s.contact_id WHERE s.contact_id = ANY(moved)
                UNION ALL
                SELECT {day_s_changed}, n.industry, n.source, COALESCE(n.owner_id, 0), s.from_stage, s.to_stage, 1
                FROM contacts_stagechange s JOIN new_rows n ON n.id = s.contact_id WHERE s.contact_id = ANY(moved)
            ) AS delta GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d) <> 0;
        END IF;""",
    # stage changes: one move each, under its contact's current industry, source and owner.
    "contacts_rollup_move_ins": """
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_s_changed}, c.industry, c.source, COALESCE(c.owner_id, 0), s.from_stage, s.to_stage, count(*)
        FROM new_rows s JOIN contacts_contact c ON c.id = s.contact_id
        WHERE c.id = ANY(ARRAY(SELECT contact_id FROM new_rows)) GROUP BY 1, 2, 3, 4, 5, 6;""",
    "contacts_rollup_move_del": """
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_s_changed}, c.industry, c.source, COALESCE(c.owner_id, 0), s.from_stage, s.to_stage, -count(*)
        FROM old_rows s JOIN contacts_contact c ON c.id = s.contact_id
        WHERE c.id = ANY(ARRAY(SELECT contact_id FROM old_rows)) GROUP BY 1, 2, 3, 4, 5, 6;""",
    "contacts_rollup_move_upd": """
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT day, industry, source, owner_id, from_stage, to_stage, sum(d) FROM (
            SELECT {day_s_changed} AS day, c.industry, c.source, COALESCE(c.owner_id, 0) AS owner_id,
                   s.from_stage, s.to_stage, -1 AS d
            FROM old_rows s JOIN new_rows n ON n.id = s.id JOIN contacts_contact c ON c.id = s.contact_id
            WHERE c.id = ANY(ARRAY(SELECT contact_id FROM old_rows))
              AND (s.contact_id, s.changed_at, s.from_stage, s.to_stage) IS DISTINCT FROM
                  (n.contact_id, n.changed_at, n.from_stage, n.to_stage)
            UNION ALL
            SELECT {day_n_changed}, c.industry, c.source, COALESCE(c.owner_id, 0), n.from_stage, n.to_stage, 1
            FROM old_rows s JOIN new_rows n ON n.id = s.id JOIN contacts_contact c ON c.id = n.contact_id
            WHERE c.id = ANY(ARRAY(SELECT contact_id FROM new_rows))
              AND (s.contact_id, s.changed_at, s.from_stage, s.to_stage) IS DISTINCT FROM
                  (n.contact_id, n.changed_at, n.from_stage, n.to_stage)
        ) AS delta GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d) <> 0;""",
}
_PG_TRIGGERS = {  # function: (table, event, transition tables)
    "contacts_rollup_contact_ins": ("contacts_contact", "INSERT", "NEW TABLE AS new_rows"),
    "contacts_rollup_contact_del": ("contacts_contact", "DELETE", "OLD TABLE AS old_rows"),
    "contacts_rollup_contact_upd": ("contacts_contact", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "contacts_rollup_move_ins": ("contacts_stagechange", "INSERT", "NEW TABLE AS new_rows"),
    "contacts_rollup_move_del": ("contacts_stagechange", "DELETE", "OLD TABLE AS old_rows"),
    "contacts_rollup_move_upd": ("contacts_stagechange", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
}

_SQLITE_TRIGGERS = {
    "contacts_rollup_contact_ins": """AFTER INSERT ON contacts_contact BEGIN
        INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n)
        VALUES ({day_new_created}, NEW.industry, NEW.source, COALESCE(NEW.owner_id, 0), NEW.stage, 1);
    END""",
    "contacts_rollup_contact_del": """AFTER DELETE ON contacts_contact BEGIN
        INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n)
        VALUES ({day_old_created}, OLD.industry, OLD.source, COALESCE(OLD.owner_id, 0), OLD.stage, -1);
    END""",
    "contacts_rollup_contact_upd": """AFTER UPDATE OF created_at, industry, source, owner_id, stage ON contacts_contact
    WHEN OLD.created_at IS NOT NEW.created_at OR OLD.industry IS NOT NEW.industry OR OLD.source IS NOT NEW.source
      OR OLD.owner_id IS NOT NEW.owner_id OR OLD.stage IS NOT NEW.stage BEGIN
        INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n) VALUES
            ({day_old_created}, OLD.industry, OLD.source, COALESCE(OLD.owner_id, 0), OLD.stage, -1),
            ({day_new_created}, NEW.industry, NEW.source, COALESCE(NEW.owner_id, 0), NEW.stage, 1);
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_changed}, OLD.industry, OLD.source, COALESCE(OLD.owner_id, 0), from_stage, to_stage, -count(*)
        FROM contacts_stagechange WHERE contact_id = OLD.id
          AND (OLD.industry IS NOT NEW.industry OR OLD.source IS NOT NEW.source OR OLD.owner_id IS NOT NEW.owner_id)
        GROUP BY 1, 5, 6;
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_changed}, NEW.industry, NEW.source, COALESCE(NEW.owner_id, 0), from_stage, to_stage, count(*)
        FROM contacts_stagechange WHERE contact_id = NEW.id
          AND (OLD.industry IS NOT NEW.industry OR OLD.source IS NOT NEW.source OR OLD.owner_id IS NOT NEW.owner_id)
        GROUP BY 1, 5, 6;
    END""",
    "contacts_rollup_move_ins": """AFTER INSERT ON contacts_stagechange BEGIN
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_new_changed}, industry, source, COALESCE(owner_id, 0), NEW.from_stage, NEW.to_stage, 1
        FROM contacts_contact WHERE id = NEW.contact_id;
    END""",
    "contacts_rollup_move_del": """AFTER DELETE ON contacts_stagechange BEGIN
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_old_changed}, industry, source, COALESCE(owner_id, 0), OLD.from_stage, OLD.to_stage, -1
        FROM contacts_contact WHERE id = OLD.contact_id;
    END""",
    "contacts_rollup_move_upd": """AFTER UPDATE OF contact_id, changed_at, from_stage, to_stage ON contacts_stagechange
    WHEN OLD.contact_id IS NOT NEW.contact_id OR OLD.changed_at IS NOT NEW.changed_at
      OR OLD.from_stage IS NOT NEW.from_stage OR OLD.to_stage IS NOT NEW.to_stage BEGIN
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_old_changed}, industry, source, COALESCE(owner_id, 0), OLD.from_stage, OLD.to_stage, -1
        FROM contacts_contact WHERE id = OLD.contact_id;
        INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n)
        SELECT {day_new_changed}, industry, source, COALESCE(owner_id, 0), NEW.from_stage, NEW.to_stage, 1
        FROM contacts_contact WHERE id = NEW.contact_id;
    END""",
}


def _day_names(vendor: str) -> dict[str, str]:
    return {
        "day_created": _day("created_at", vendor), "day_o_created": _day("o.created_at", vendor),
        "day_n_created": _day("n.created_at", vendor), "day_s_changed": _day("s.changed_at", vendor),
        "day_n_changed": _day("n.changed_at", vendor), "day_changed": _day("changed_at", vendor),
        "day_new_created": _day("NEW.created_at", vendor), "day_old_created": _day("OLD.created_at", vendor),
        "day_new_changed": _day("NEW.changed_at", vendor), "day_old_changed": _day("OLD.changed_at", vendor),
    }


def triggers_install(conn=None) -> None:
    """(Re)create the triggers that keep the rollup; idempotent. The migration calls it, and so
    does the nightly reconcile (a changed TIME_ZONE then reaches the triggers' `day`). On
    PostgreSQL only the functions are replaced and a missing trigger created: DROP TRIGGER would
    take an ACCESS EXCLUSIVE lock on contacts, stopping every read until the reconcile commits."""
    conn = conn or connection
    names = _day_names(conn.vendor)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'contacts_rollup_%%' AND NOT tgisinternal")
            present = {row[0] for row in cursor.fetchall()}
            for function, body in _PG_FUNCTIONS.items():
                # No sequential scan of contacts or stage changes for a few changed rows: the planner
                # knows nothing about transition tables' sizes. No JIT: see NO_JIT.
                cursor.execute(
                    f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql"
                    f" SET enable_seqscan = off {NO_JIT} AS $$ DECLARE moved bigint[]; BEGIN {body.format(**names)}"
                    " RETURN NULL; END $$"
                )
                if function not in present:
                    table, event, transition = _PG_TRIGGERS[function]
                    cursor.execute(f"CREATE TRIGGER {function} AFTER {event} ON {table} REFERENCING {transition}"
                                   f" FOR EACH STATEMENT EXECUTE FUNCTION {function}()")
        elif conn.vendor == "sqlite":
            for name, body in _SQLITE_TRIGGERS.items():
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
                cursor.execute(f"CREATE TRIGGER {name} {body.format(**names)}")
        else:
            raise NotImplementedError(f"the stage rollup has no triggers for {conn.vendor}")


def triggers_remove(conn=None) -> None:
    conn = conn or connection
    with conn.cursor() as cursor:
        for name, (table, _event, _transition) in _PG_TRIGGERS.items():
            if conn.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


# --- The truth: GROUP BY over contacts and stage changes ------------------------------------

def count_truth_sql(vendor: str) -> str:
    return (f"SELECT {_day('created_at', vendor)}, industry, source, COALESCE(owner_id, 0), stage, count(*)"
            " FROM contacts_contact GROUP BY 1, 2, 3, 4, 5")


def move_truth_sql(vendor: str) -> str:
    return (f"SELECT {_day('s.changed_at', vendor)}, c.industry, c.source, COALESCE(c.owner_id, 0),"
            " s.from_stage, s.to_stage, count(*)"
            " FROM contacts_stagechange s JOIN contacts_contact c ON c.id = s.contact_id GROUP BY 1, 2, 3, 4, 5, 6")


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _rows(sql: str) -> Counter:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return Counter({(_as_date(row[0]), *row[1:-1]): row[-1] for row in cursor.fetchall() if row[-1]})


def _stored(model) -> Counter:
    key = COUNT_KEY if model is StageCount else MOVE_KEY
    rows = model.objects.order_by().values_list(*key).annotate(total=Sum("n"))
    return Counter({tuple(row[:-1]): row[-1] for row in rows if row[-1]})


def rollup_truth() -> tuple[Counter, Counter]:
    """What the rollup should hold, by GROUP BY: ({count key: n}, {move key: n})."""
    return _rows(count_truth_sql(connection.vendor)), _rows(move_truth_sql(connection.vendor))


def rollup_stored() -> tuple[Counter, Counter]:
    """What the rollup holds, its deltas summed: the same shape as rollup_truth()."""
    return _stored(StageCount), _stored(StageMove)


def _drift(stored: Counter, truth: Counter) -> tuple[int, int]:
    keys = set(stored) | set(truth)
    off = [abs(stored.get(k, 0) - truth.get(k, 0)) for k in keys]
    return sum(1 for d in off if d), sum(off)


def rollup_reconcile() -> dict[str, int]:
    """Recompute the rollup with GROUP BY, replace it, and log any drift. On PostgreSQL the
    rollup tables are locked against writers meanwhile (EXCLUSIVE: reads go on), so no write
    falls between the recount and the replacement; contacts' writers wait the few seconds."""
    vendor = connection.vendor
    with transaction.atomic():
        triggers_install()
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE contacts_stagecount, contacts_stagemove IN EXCLUSIVE MODE")
        counts, moves = rollup_truth()
        stored_counts, stored_moves = rollup_stored()
        count_keys, count_off = _drift(stored_counts, counts)
        move_keys, move_off = _drift(stored_moves, moves)
        StageCount.objects.all().delete()
        StageMove.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n) "
                           f"{count_truth_sql(vendor)}")
            cursor.execute(f"INSERT INTO contacts_stagemove (day, industry, source, owner_id, from_stage, to_stage, n) "
                           f"{move_truth_sql(vendor)}")
    result = {"count_keys": len(counts), "move_keys": len(moves), "count_keys_off": count_keys,
              "count_off": count_off, "move_keys_off": move_keys, "move_off": move_off}
    if count_keys or move_keys:
        log.warning("Stage rollup drift repaired: %(count_keys_off)d count keys off by %(count_off)d in all, "
                    "%(move_keys_off)d move keys off by %(move_off)d", result)
    else:
        log.info("Stage rollup reconciled: no drift (%(count_keys)d count keys, %(move_keys)d move keys)", result)
    return result


# --- Compaction -----------------------------------------------------------------------------

def rollup_compact() -> int:
    """Fold the delta log: every key written more than once (or summing to zero) becomes one row
    (or none). Returns the rows removed. Safe beside writers: on PostgreSQL one statement deletes
    what it sees and re-inserts the sums; on SQLite the database has one writer at a time."""
    removed = 0
    for table, key in (("contacts_stagecount", COUNT_KEY), ("contacts_stagemove", MOVE_KEY)):
        cols = ", ".join(key)
        match = " AND ".join(f"t.{k} = f.{k}" for k in key)
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"WITH folded AS (SELECT {cols} FROM {table} GROUP BY {cols} HAVING count(*) > 1 OR sum(n) = 0),"
                    f" gone AS (DELETE FROM {table} t USING folded f WHERE {match} RETURNING {', '.join('t.' + k for k in key)}, t.n),"
                    f" kept AS (INSERT INTO {table} ({cols}, n) SELECT {cols}, sum(n) FROM gone GROUP BY {cols}"
                    f" HAVING sum(n) <> 0 RETURNING 1)"
                    f" SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)"
                )
                removed += cursor.fetchone()[0]
            else:
                cursor.execute(f"SELECT max(id) FROM {table}")
                top = cursor.fetchone()[0] or 0
                cursor.execute(f"SELECT {cols}, sum(n), count(*) FROM {table} WHERE id <= %s GROUP BY {cols}"
                               f" HAVING count(*) > 1 OR sum(n) = 0", [top])
                folded = cursor.fetchall()
                for row in folded:
                    cursor.execute(f"DELETE FROM {table} WHERE id <= %s AND " + " AND ".join(f"{k} = %s" for k in key),
                                   [top, *row[:len(key)]])
                    removed += row[-1]
                    if row[-2]:
                        cursor.execute(f"INSERT INTO {table} ({cols}, n) VALUES ({', '.join(['%s'] * (len(key) + 1))})",
                                       [*row[:len(key) + 1]])
                        removed -= 1
    return removed


# --- Reads ----------------------------------------------------------------------------------

def _dims_q(*, industry=None, source=None, owner=None) -> Q:
    """The dashboard's and the stage list's dimension filters on a rollup table. `owner`: a user,
    a user id, or "none"."""
    q = Q()
    if industry:
        q &= Q(industry=industry)
    if source:
        q &= Q(source__iexact=source)
    if owner not in (None, ""):
        q &= Q(owner_id=0 if owner == "none" else int(getattr(owner, "pk", owner)))
    return q


def count_rows(*, day_from: date | None = None, day_to: date | None = None, industry=None, source=None, owner=None,
               by: tuple[str, ...] = ("stage",)) -> QuerySet:
    """Contacts (created on day_from..day_to, both inclusive) summed by `by`: rows of {*by, "n"}."""
    qs = StageCount.objects.filter(_dims_q(industry=industry, source=source, owner=owner))
    if day_from:
        qs = qs.filter(day__gte=day_from)
    if day_to:
        qs = qs.filter(day__lte=day_to)
    return qs.order_by().values(*by).annotate(n=Sum("n")).filter(n__gt=0)


def stage_counts(**filters) -> dict[str, int]:
    """{stage: contacts} for the filters of count_rows (stages with none left out)."""
    return {row["stage"]: row["n"] for row in count_rows(**filters)}


def move_rows(*, day_from: date | None = None, day_to: date | None = None, industry=None, source=None, owner=None,
              by: tuple[str, ...] = ("day", "from_stage", "to_stage")) -> QuerySet:
    """Stage moves (on day_from..day_to, inclusive) summed by `by`."""
    qs = StageMove.objects.filter(_dims_q(industry=industry, source=source, owner=owner))
    if day_from:
        qs = qs.filter(day__gte=day_from)
    if day_to:
        qs = qs.filter(day__lte=day_to)
    return qs.order_by().values(*by).annotate(n=Sum("n")).filter(n__gt=0)
