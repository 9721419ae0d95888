"""Benchmark workloads: contacts and interactions generated straight into COPY buffers.

Reproducible from a seed: each block of contacts draws from its own RNG seeded with
(seed, block), so the data does not depend on how many processes generate it. Times
are offsets from a `now` chosen at seeding, so the data always looks recent.

Why not `contacts.demo.DemoGenerator` + services: the services validate, de-duplicate
and queue scoring row by row (~2,500 rows/s); 11M rows need COPY. The vocabulary
(names, cities, journeys per industry) is the demo's, so the data looks the same.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg2

from contacts.demo import CAMPAIGNS, CHANNEL_OF, CITIES, COMPANY_WORDS, FIRST, FREE_MAIL, JOB_TITLES, JOURNEYS, LAST, SOURCES

BLOCK = 10_000  # contacts per RNG block (and per COPY round trip)
INDUSTRIES = (("ecommerce", 35), ("b2b", 25), ("healthcare", 15), ("education", 15), ("other", 10))
# Persona: (weight, min interactions, max interactions). Most people never progress.
PERSONAS = (("cold", 50, 0, 6), ("warm", 28, 6, 20), ("hot", 14, 10, 36), ("converted", 8, 12, 40))
AWARENESS = ("page_viewed", "email_opened", "ad_clicked", "social_followed")

CONTACT_COLUMNS = (
    "id", "created_at", "updated_at", "full_name", "email", "phone", "social_handle", "company", "job_title", "city",
    "industry", "source", "utm_source", "utm_medium", "utm_campaign", "external_source", "external_ref",
    "consent_email", "consent_whatsapp", "consent_sms", "do_not_contact", "objects_to_profiling", "attributes",
    "stage", "stage_pinned", "score", "score_breakdown", "needs_rescore", "last_interaction_at",
)
INTERACTION_COLUMNS = ("contact_id", "kind_id", "occurred_at", "channel", "data", "source", "created_at")

PAGE_DATA = tuple(json.dumps({"path": p}) for p in ("/", "/produk", "/promo/1212", "/blog/tips", "/harga", "/promo/ramadan"))
FORM_DATA = tuple(json.dumps({"form": f, "company_size": s}) for f in ("ebook", "konsultasi", "promo") for s in (1, 10, 50, 200))
PURCHASE_DATA = tuple(json.dumps({"order_value": v}) for v in (89000, 150000, 420000, 1250000))


@dataclass(frozen=True)
class Workload:
    contacts: int
    interactions: int
    seed: int = 42
    days: int = 180


def _expand(pairs) -> tuple[list, list]:
    values, weights = [], []
    for p in pairs:
        values.append(p[:-1] if len(p) > 2 else p[0])
        weights.append(p[-1])
    return values, weights


class _Clock:
    """Timestamps as COPY text, cached per minute (formatting is the hot spot)."""

    def __init__(self, now: datetime) -> None:
        self.now_min = int(now.timestamp()) // 60
        self.cache: dict[int, str] = {}

    def text(self, minutes_ago: int) -> str:
        m = self.now_min - minutes_ago
        s = self.cache.get(m)
        if s is None:
            s = self.cache[m] = time.strftime("%Y-%m-%d %H:%M:00+00", time.gmtime(m * 60))
        return s


def generate_block(work: Workload, block: int, now: datetime) -> tuple[str, str, int]:
    """COPY text for contacts [block*BLOCK, ...) and their interactions; returns (contacts, interactions, n)."""
    rng = random.Random(f"{work.seed}:{block}")
    clock = _Clock(now)
    first_id = block * BLOCK + 1
    last_id = min(first_id + BLOCK - 1, work.contacts)
    n_contacts = last_id - first_id + 1
    target = round(work.interactions * last_id / work.contacts) - round(work.interactions * (first_id - 1) / work.contacts)
    cities, city_w = _expand(CITIES)
    sources, source_w = _expand(SOURCES)
    industries, industry_w = _expand(INDUSTRIES)
    personas = [p[0] for p in PERSONAS]
    persona_w = [p[1] for p in PERSONAS]
    bounds = {p[0]: (p[2], p[3]) for p in PERSONAS}
    span_minutes = work.days * 24 * 60

    # Counts first, then nudge them so the block holds exactly its share of interactions.
    people = []
    for _ in range(n_contacts):
        persona = rng.choices(personas, persona_w)[0]
        lo, hi = bounds[persona]
        people.append([persona, rng.randint(lo, hi)])
    diff = target - sum(p[1] for p in people)
    while diff:
        p = people[rng.randrange(n_contacts)]
        if diff > 0:
            p[1] += 1
            diff -= 1
        elif p[1] > 0:
            p[1] -= 1
            diff += 1

    c_out, i_out = io.StringIO(), io.StringIO()
    cw, iw = c_out.write, i_out.write
    total = 0
    for offset, (persona, n) in enumerate(people):
        cid = first_id + offset
        first, last = rng.choice(FIRST), rng.choice(LAST)
        industry = rng.choices(industries, industry_w)[0]
        source, medium = rng.choices(sources, source_w)[0]
        company = "" if industry == "ecommerce" and rng.random() < 0.8 else f"PT {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)}"
        domain = rng.choice(FREE_MAIL) if not company or rng.random() < 0.5 else company[3:].replace(" ", "").lower() + ".co.id"
        has_email, has_phone = rng.random() < 0.85, rng.random() < 0.75
        email = f"{first}.{last}.{cid}@{domain}".lower() if has_email or not has_phone else "\\N"
        phone = f"+628{rng.choice('1257')}{cid:09d}" if has_phone else "\\N"
        paid = medium in ("cpc", "social")
        attributes = _attributes(rng, industry)

        # The journey: awareness/interest touches, then intent, then perhaps a conversion, oldest first.
        interest, intent, conversion, pace_hours = JOURNEYS[industry]
        kinds: list[str] = []
        if n:
            n_intent = 0 if persona in ("cold", "warm") else min(n - 1, rng.randint(1, 3))
            n_conv = 1 if persona == "converted" and n - n_intent > 1 else 0
            pool = AWARENESS if persona == "cold" else interest + AWARENESS
            kinds = [rng.choice(pool) for _ in range(n - n_intent - n_conv)]
            kinds += [rng.choice(intent) for _ in range(n_intent)]
            kinds += [rng.choice(conversion) for _ in range(n_conv)]
            if rng.random() < 0.03:
                kinds[rng.randrange(len(kinds))] = rng.choice(("unsubscribed", "email_bounced"))
            span = min(span_minutes, int(pace_hours * 60 * len(kinds) * rng.uniform(0.3, 1.5)) + 60)
            if persona == "cold":
                span = span_minutes
            end = rng.randrange(0, span_minutes - span + 1)  # minutes ago of the latest touch
            ages = sorted((end + rng.randrange(span) for _ in kinds), reverse=True)
            for kind, age in zip(kinds, ages, strict=True):
                data = "{}"
                if kind == "page_viewed":
                    data = rng.choice(PAGE_DATA)
                elif kind == "form_submitted":
                    data = rng.choice(FORM_DATA)
                elif kind == "purchase":
                    data = rng.choice(PURCHASE_DATA)
                at = clock.text(age)
                iw(f"{cid}\t{kind}\t{at}\t{CHANNEL_OF.get(kind, 'web')}\t{data}\t{source}\t{at}\n")
            total += len(kinds)
            created = clock.text(ages[0] + rng.randrange(0, 1440))
            last_at = clock.text(ages[-1])
        else:
            created = clock.text(rng.randrange(span_minutes))
            last_at = "\\N"
        cw("\t".join((
            str(cid), created, created, f"{first} {last}", email, phone,
            f"@{first}_{last}{cid}".lower() if source in ("instagram", "tiktok") else "",
            company, rng.choice(JOB_TITLES) if company or rng.random() < 0.3 else "",
            rng.choices(cities, city_w)[0], industry, source,
            source if paid else "", medium if paid else "", rng.choice(CAMPAIGNS) if paid else "",
            "", "\\N",
            _bool(has_email and rng.random() < 0.6), _bool(has_phone and rng.random() < 0.5),
            _bool(has_phone and rng.random() < 0.2), _bool(rng.random() < 0.02), _bool(rng.random() < 0.003),
            attributes, "contact", "f", "0", "{}", "f", last_at,
        )) + "\n")
    return c_out.getvalue(), i_out.getvalue(), total


def _bool(value: bool) -> str:
    return "t" if value else "f"


def _attributes(rng: random.Random, industry: str) -> str:
    if industry == "ecommerce":
        return '{"cart_value": %d}' % rng.choice((0, 75000, 150000, 350000, 600000, 1200000))
    if industry == "healthcare":
        return '{"age": %d}' % rng.randint(18, 70)
    if industry == "education":
        return '{"graduation_year": %d}' % rng.choice((2026, 2027, 2028))
    if industry == "b2b":
        return '{"employees": %d}' % rng.choice((5, 20, 50, 120, 500, 2000))
    return "{}"


def _load_blocks(args: tuple[str, Workload, list[int], datetime]) -> int:
    """One loader process: generate its blocks and COPY them (FK triggers off: the data is
    consistent by construction, and per-row FK checks would double the load time)."""
    dsn, work, blocks, now = args
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    total = 0
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        for block in blocks:
            contacts, interactions, n = generate_block(work, block, now)
            cur.copy_expert(f"COPY contacts_contact ({', '.join(CONTACT_COLUMNS)}) FROM STDIN", io.StringIO(contacts))
            cur.copy_expert(f"COPY contacts_interaction ({', '.join(INTERACTION_COLUMNS)}) FROM STDIN", io.StringIO(interactions))
            total += n
    conn.close()
    return total


# Secondary indexes are dropped during the load and built afterwards: building an index
# once is several times cheaper than maintaining it row by row.
_LOAD_TABLES = ("contacts_contact", "contacts_interaction", "contacts_contactsearch")


def _secondary_indexes(cur) -> list[tuple[str, str]]:
    cur.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)""",
        (list(_LOAD_TABLES),),
    )
    return cur.fetchall()


def rebuild_search_text(cur) -> None:
    """COPY ran with triggers off (session_replication_role = replica): the search text is built
    once from the loaded rows (contacts.search_text)."""
    from contacts.search_text import rebuild_sql

    for statement in rebuild_sql("postgresql"):
        cur.execute(statement)


def truncate(dsn: str) -> None:
    """Empty the tables a run fills (a publish on a full table would rescore it first)."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "TRUNCATE contacts_contact, contacts_interaction, contacts_stagechange, contacts_note,"
            " contacts_stagecount, contacts_stagemove, contacts_contactsearch,"  # TRUNCATE fires no trigger
            " scoring_rescorerun, scoring_rescorechunk RESTART IDENTITY CASCADE"
        )
    conn.close()


def seed(dsn: str, work: Workload, *, processes: int = 2, now: datetime | None = None, log=print) -> dict:
    """Empty the contact tables and load the workload; returns timings and counts."""
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0) - timedelta(minutes=1)
    started = time.perf_counter()
    truncate(dsn)
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        indexes = _secondary_indexes(cur)
        for name, _definition in indexes:
            cur.execute(f'DROP INDEX "{name}"')
    n_blocks = (work.contacts + BLOCK - 1) // BLOCK
    shares = [list(range(p, n_blocks, processes)) for p in range(processes)]
    jobs = [(dsn, work, share, now) for share in shares if share]
    if len(jobs) == 1:
        interactions = _load_blocks(jobs[0])
    else:
        with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
            interactions = sum(pool.map(_load_blocks, jobs))
    loaded = time.perf_counter()
    log(f"  loaded {work.contacts:,} contacts and {interactions:,} interactions in {loaded - started:.1f} s; indexing")
    with conn.cursor() as cur:
        rebuild_search_text(cur)
        cur.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cur.execute(definition)
        cur.execute("SELECT setval(pg_get_serial_sequence('contacts_contact', 'id'), %s)", (work.contacts,))
        cur.execute("VACUUM ANALYZE contacts_contact")
        cur.execute("VACUUM ANALYZE contacts_interaction")
        cur.execute("VACUUM ANALYZE contacts_contactsearch")
        # COPY ran with triggers off (session_replication_role = replica): the stage rollup is
        # built once from the loaded rows, as the nightly reconcile would (contacts.rollup).
        from contacts.rollup import count_truth_sql

        cur.execute(f"INSERT INTO contacts_stagecount (day, industry, source, owner_id, stage, n) {count_truth_sql('postgresql')}")
        cur.execute("VACUUM ANALYZE contacts_stagecount")
    conn.close()
    finished = time.perf_counter()
    return {
        "contacts": work.contacts, "interactions": interactions, "seed": work.seed, "now": now.isoformat(),
        "load_s": loaded - started, "index_s": finished - loaded, "total_s": finished - started,
    }
