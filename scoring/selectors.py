"""Reads that turn stored rules and contacts into the engine's plain dataclasses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import connection
from django.db.models import Count, F, Max, Prefetch, Q, Subquery

from contacts.models import Contact, Industry, IntentLevel, Interaction, InteractionKind
from scoring import engine
from scoring.models import RescoreRun, Rule, RuleSet, RuleSetVersion

# Contact columns the engine may look at (ATTRIBUTE_FIELDS minus the derived email_domain).
FACT_FIELDS = tuple(name for name in engine.ATTRIBUTE_FIELDS if name != "email_domain")
STATE_FIELDS = ("id", "industry", "stage", "stage_pinned", "stage_changed_at", "updated_at", "attributes",
                "needs_rescore", "score_digest", "score_stable_until")

_published_cache: dict[tuple[Any, ...], engine.RuleSet] = {}


def _catalog_stamp() -> Any:
    """Changes whenever the interaction-kind catalog changes (intent levels feed the policy)."""
    return InteractionKind.objects.aggregate(m=Max("updated_at"))["m"]


def version_to_engine(version: RuleSetVersion, *, catalog_stamp: Any = None) -> engine.RuleSet:
    """The engine's view of one version. Published versions never change, so they are
    cached per process (keyed with the catalog stamp); drafts are always read fresh."""
    # published_at is part of the key: ids can be reused (SQLite after a rollback), a publish time cannot.
    key = (version.pk, version.published_at, catalog_stamp if catalog_stamp is not None else _catalog_stamp())
    if not version.is_draft and key in _published_cache:
        return _published_cache[key]
    rules = list(version.rules.all().order_by("position", "id"))
    intent_kinds = frozenset(InteractionKind.objects.filter(intent_level=IntentLevel.INTENT).values_list("slug", flat=True))
    policy = engine.StagePolicy(
        lead_threshold=version.lead_threshold,
        prospect_threshold=version.prospect_threshold,
        prospect_requires_intent=version.prospect_requires_intent,
        intent_window_days=version.intent_window_days,
        intent_kinds=intent_kinds,
        conversion_kinds=frozenset(version.conversion_kinds.values_list("slug", flat=True)),
        demote_after_days=version.demote_after_days,
        decay_half_life_days=version.decay_half_life_days,
    )
    result = engine.RuleSet(
        version_id=version.pk,
        interaction_rules=tuple(rule_to_engine(r) for r in rules if r.type == Rule.Type.INTERACTION),
        attribute_rules=tuple(rule_to_engine(r) for r in rules if r.type == Rule.Type.ATTRIBUTE),
        policy=policy,
    )
    if not version.is_draft:
        _published_cache[key] = result
    return result


def rule_to_engine(rule: Rule) -> engine.InteractionRule | engine.AttributeRule:
    condition = engine.Condition(rule.field, rule.operator, rule.value) if rule.field and rule.operator else None
    if rule.type == Rule.Type.INTERACTION:
        return engine.InteractionRule(
            id=rule.pk, label=rule.label, kind=rule.interaction_kind_id, points=rule.points,
            window_days=rule.window_days, max_occurrences=rule.max_occurrences, condition=condition,
        )
    assert condition is not None, "attribute rules always have a condition"
    return engine.AttributeRule(id=rule.pk, label=rule.label, condition=condition, points=rule.points)


@dataclass(frozen=True)
class ActiveRuleSets:
    """The published rule set per industry ("" is the default)."""

    by_industry: dict[str, engine.RuleSet]
    versions: dict[int, RuleSetVersion]

    def for_industry(self, industry: str) -> engine.RuleSet | None:
        return self.by_industry.get(industry) or self.by_industry.get("")

    @property
    def changed_at(self) -> datetime | None:
        """When the rules in force last changed: the latest publish, or a change to the
        interaction-kind catalog (intent levels feed the policy). A result stored before it
        may be stale whatever its stable_until says."""
        moments = [v.published_at for v in self.versions.values() if v.published_at]
        moments += [stamp for v in self.versions.values() if (stamp := getattr(v, "catalog_stamp", None))]
        return max(moments, default=None)

    @property
    def needs_data(self) -> bool:
        """Only load interactions' JSON data when some rule has a condition on it."""
        return any(r.condition for rs in self.by_industry.values() for r in rs.interaction_rules)


def active_rulesets() -> ActiveRuleSets:
    """The published versions and the catalog stamp that keys their cache, in one query
    (every scoring run, down to one event's, starts here)."""
    newest_kind = InteractionKind.objects.order_by(F("updated_at").desc(nulls_last=True)).values("updated_at")[:1]
    versions = {
        v.pk: v
        for v in RuleSetVersion.objects.filter(ruleset__active_version=F("pk")).select_related("ruleset")
        .annotate(catalog_stamp=Subquery(newest_kind))
    }
    return ActiveRuleSets(
        by_industry={v.ruleset.industry: version_to_engine(v, catalog_stamp=v.catalog_stamp) for v in versions.values()},
        versions=versions,
    )


def single_ruleset(version: RuleSetVersion) -> ActiveRuleSets:
    """Score everyone in the version's scope with this one version (preview, backtest)."""
    return ActiveRuleSets(by_industry={version.ruleset.industry: version_to_engine(version)}, versions={version.pk: version})


def scope_filter(version: RuleSetVersion) -> dict[str, Any]:
    """The contacts a rule set scores: its industry, or for the default every industry
    that has no published set of its own."""
    industry = version.ruleset.industry
    if industry:
        return {"industry": industry}
    own = RuleSet.objects.exclude(industry="").filter(active_version__isnull=False).values_list("industry", flat=True)
    return {"industry__in": [i for i in Industry.values if i not in set(own)]}


def contact_facts(row: dict[str, Any], touches: Sequence[engine.Touch]) -> engine.ContactFacts:
    fields = {name: row.get(name) for name in FACT_FIELDS}
    fields["attributes"] = row.get("attributes") or {}
    return engine.ContactFacts(
        fields=fields, touches=touches, stage=row["stage"], pinned=row["stage_pinned"],
        stage_changed_at=row["stage_changed_at"],
    )


def load_touches(contact_ids: Iterable[int], *, with_data: bool) -> dict[int, list[engine.Touch]]:
    columns = ["id", "contact_id", "kind_id", "occurred_at"] + (["data"] if with_data else [])
    touches: dict[int, list[engine.Touch]] = defaultdict(list)
    for row in Interaction.objects.filter(contact_id__in=list(contact_ids)).order_by().values_list(*columns):
        touches[row[1]].append(engine.Touch(id=row[0], kind=row[2], occurred_at=row[3], data=row[4] if with_data else {}))
    return touches


def iter_contact_facts(
    queryset, *, with_data: bool, batch: int = 2000,
) -> Iterator[list[tuple[dict[str, Any], engine.ContactFacts]]]:
    """Batches of (state row, facts) in id order, two queries per batch (keyset pagination)."""
    last_id = 0
    columns = tuple(dict.fromkeys(STATE_FIELDS + FACT_FIELDS))
    while True:
        rows = list(queryset.filter(pk__gt=last_id).order_by("pk").values(*columns)[:batch])
        if not rows:
            return
        last_id = rows[-1]["id"]
        touches = load_touches([r["id"] for r in rows], with_data=with_data)
        yield [(row, contact_facts(row, touches.get(row["id"], []))) for row in rows]


def contact_row(contact_id: int) -> dict[str, Any] | None:
    columns = tuple(dict.fromkeys(STATE_FIELDS + FACT_FIELDS + ("objects_to_profiling",)))
    return Contact.objects.filter(pk=contact_id).values(*columns).first()


# --- The bulk path (full rescores): raw reads, rules narrowed per contact -------------------
#
# Profiling a full rescore (docs/performance.md) showed most time outside the engine: Django's
# per-row converters (every interaction's JSON `data` decoded although two rules look at one
# key each) and the engine trying all ~25 rules on every contact. These readers return exactly
# what iter_contact_facts returns, from plain cursors; the engine stays the one semantics.

# The contact columns the bulk path always reads (the write guard and the digest need the last three).
_BULK_STATE = ("id", "industry", "stage", "stage_pinned", "stage_changed_at", "updated_at", "needs_rescore", "score_digest",
               "score_stable_until")


@dataclass(frozen=True)
class BulkRead:
    """What the bulk readers load: the contact columns some attribute rule reads, and the
    interaction-data keys some interaction rule's condition reads. Nothing else is parsed."""

    fact_columns: tuple[str, ...] = (*FACT_FIELDS, "attributes")
    data_keys: tuple[str, ...] = ()

    @classmethod
    def for_rulesets(cls, rulesets: ActiveRuleSets) -> BulkRead:
        readable = {*FACT_FIELDS, "attributes"}
        columns, keys = set(), set()
        for ruleset in rulesets.by_industry.values():
            for rule in ruleset.attribute_rules:
                name = rule.condition.field
                columns.add("email" if name == "email_domain" else "attributes" if name.startswith(engine.ATTRIBUTES_PREFIX) else name)
            keys |= {rule.condition.field for rule in ruleset.interaction_rules if rule.condition}
        return cls(tuple(sorted(columns & readable)), tuple(sorted(keys)))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_BULK_STATE + self.fact_columns))

    def contact_sql(self, where: str) -> str:
        # jsonb as text: decoded by orjson, not first handed through the driver's Python-level typecaster.
        select = ", ".join(f"{name}::text" if name == "attributes" else name for name in self.columns)
        return f"SELECT {select} FROM contacts_contact WHERE {where}"


def unstable_q(as_of: datetime, rules_changed_at: datetime | None) -> Q:
    """The contacts a skipping rescore must read: marked, never dated or scored, due by `as_of`,
    or scored before the rules in force last changed (iter_range_facts spells the same in SQL)."""
    query = (Q(needs_rescore=True) | Q(score_stable_until__isnull=True) | Q(scored_at__isnull=True)
             | Q(score_stable_until__lte=as_of))
    if rules_changed_at is not None:
        query |= Q(scored_at__lt=rules_changed_at)
    return query


def iter_range_facts(
    first_id: int, last_id: int, *, read: BulkRead = BulkRead(), batch: int = 2000,
    skip_stable: tuple[datetime, datetime | None] | None = None,
) -> Iterator[list[tuple[dict[str, Any], engine.ContactFacts]]]:
    """Batches of (state row, facts) for contacts first_id..last_id that do not object to
    profiling, in id order: two plain queries per batch, keyset-paginated, loading only what
    `read` names (what iter_contact_facts gives the engine for those rules, cheaper).
    `skip_stable` (as of, rules changed at): leave out the contacts that are not marked, were
    scored after the rules last changed and are stable past `as of` (scoring.rescoring)."""
    where, extra = "id > %s AND id <= %s AND NOT objects_to_profiling", ()
    if skip_stable is not None:
        # The same test as unstable_q (the SQLite path), spelled for this cursor.
        as_of, rules_changed_at = skip_stable
        stale = "needs_rescore OR score_stable_until IS NULL OR score_stable_until <= %s OR scored_at IS NULL"
        extra = (as_of,)
        if rules_changed_at is not None:
            stale, extra = stale + " OR scored_at < %s", (as_of, rules_changed_at)
        where += f" AND ({stale})"
    contact_sql = read.contact_sql(f"{where} ORDER BY id LIMIT %s")
    # Skipping leaves gaps in the id range: then the interactions of just the ids read.
    touch_sql, data_params = _touch_sql(read.data_keys, "contact_id = ANY(%s)" if skip_stable else
                                        "contact_id >= %s AND contact_id <= %s")
    cursor_after = first_id - 1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(contact_sql, (cursor_after, last_id, *extra, batch))
            rows = cursor.fetchall()
            if not rows:
                return
            cursor_after = rows[-1][0]
            touch_params = ([r[0] for r in rows],) if skip_stable else (rows[0][0], cursor_after)
            cursor.execute(touch_sql, (*data_params, *touch_params))
            yield _facts_batch(read.columns, rows, cursor.fetchall())


def iter_ids_facts(
    contact_ids: Sequence[int], *, read: BulkRead = BulkRead(), batch: int = 2000,
) -> Iterator[list[tuple[dict[str, Any], engine.ContactFacts]]]:
    """iter_range_facts for a list of ids (the contacts a burst of events touched)."""
    contact_sql = read.contact_sql("id = ANY(%s) AND NOT objects_to_profiling ORDER BY id")
    touch_sql, data_params = _touch_sql(read.data_keys, "contact_id = ANY(%s)")
    ordered = sorted(set(contact_ids))
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), batch):
            chunk = ordered[start:start + batch]
            cursor.execute(contact_sql, (chunk,))
            rows = cursor.fetchall()
            if rows:
                cursor.execute(touch_sql, (*data_params, [r[0] for r in rows]))
                yield _facts_batch(read.columns, rows, cursor.fetchall())


def _touch_sql(data_keys: Sequence[str], where: str) -> tuple[str, list[Any]]:
    """The touches query and its leading parameters: one row per contact, its interactions'
    ids, kinds, times and data as arrays (parsed in C by the driver: a row per interaction
    cost more Python than the engine). The data is NULL for the many interactions that
    have none of `data_keys`, else an object of just those keys, as text."""
    data, params = "NULL::text", []
    if data_keys:
        pairs = ", ".join("%s, data -> %s" for _ in data_keys)
        data = f"(CASE WHEN data ?| %s THEN jsonb_build_object({pairs}) END)::text"
        params = [list(data_keys), *(key for key in data_keys for _ in range(2))]
    sql = (f"SELECT contact_id, array_agg(id), array_agg(kind_id), array_agg(occurred_at), array_agg({data})"
           f" FROM contacts_interaction WHERE {where} GROUP BY contact_id")
    return sql, params


_NO_DATA: dict[str, Any] = {}  # shared: the engine only reads Touch.data


def _touch_data(text: str) -> dict[str, Any]:
    # A JSON null is no value, as the ORM path's .get() would see it.
    return {key: value for key, value in orjson.loads(text).items() if value is not None} or _NO_DATA


def _facts_batch(columns: Sequence[str], rows: Sequence[tuple],
                 touch_rows: Sequence[tuple]) -> list[tuple[dict[str, Any], engine.ContactFacts]]:
    touch = engine.Touch
    touches: dict[int, list[engine.Touch]] = {}
    for contact_id, ids, kinds, times, datas in touch_rows:
        if datas.count(None) == len(datas):  # the usual case: no rule reads these interactions' data
            touches[contact_id] = list(map(touch, ids, kinds, times))
        else:
            datas = [_NO_DATA if data is None else _touch_data(data) for data in datas]
            touches[contact_id] = list(map(touch, ids, kinds, times, datas))
    loads = orjson.loads  # orjson: much faster than json here (docs/performance.md)
    attributes_at = columns.index("attributes") if "attributes" in columns else None
    facts, no_touches = engine.ContactFacts, ()
    out = []
    for values in rows:
        row = dict(zip(columns, values, strict=True))
        if attributes_at is not None:
            attributes = values[attributes_at]
            row["attributes"] = (loads(attributes) if attributes is not None else None) or {}
        # The row doubles as the engine's fields: it holds every column an attribute rule of
        # these rule sets reads, and the extra state columns are never read. Saves copying
        # the fields per contact.
        out.append((row, facts(fields=row, touches=touches.get(row["id"], no_touches), stage=row["stage"],
                               pinned=row["stage_pinned"], stage_changed_at=row["stage_changed_at"])))
    return out


# --- The rules pages' reads ---------------------------------------------------------------

def rulesets_overview() -> list[dict]:
    """Every rule set with its active version, draft and history: three queries in all."""
    versions = RuleSetVersion.objects.annotate(rule_count=Count("rules")).select_related("published_by", "created_by")
    rulesets = RuleSet.objects.prefetch_related(Prefetch("versions", queryset=versions, to_attr="all_versions"))
    rows = []
    for ruleset in rulesets:
        active = next((v for v in ruleset.all_versions if v.pk == ruleset.active_version_id), None)
        draft = next((v for v in ruleset.all_versions if v.is_draft), None)
        history = [v for v in ruleset.all_versions if v not in (active, draft)]
        rows.append({"ruleset": ruleset, "active": active, "draft": draft, "history": history})
    return rows


def ruleset_draft(ruleset_id: int) -> RuleSetVersion | None:
    return (
        RuleSetVersion.objects.filter(ruleset_id=ruleset_id, status=RuleSetVersion.Status.DRAFT)
        .select_related("ruleset", "created_by").first()
    )


def version_rules(version: RuleSetVersion) -> list[Rule]:
    return list(version.rules.select_related("interaction_kind").order_by("type", "position", "id"))


def versions_with_detail():
    """Versions with what their page shows: who made and published them, how many stage changes they caused."""
    return (RuleSetVersion.objects.select_related("ruleset", "created_by", "published_by")
            .prefetch_related("conversion_kinds").annotate(stage_change_count=Count("stage_changes")))


def recent_rescore_runs(limit: int) -> list[RescoreRun]:
    return list(RescoreRun.objects.select_related("started_by", "version__ruleset")[:limit])


def outcome_conversion_kinds() -> dict[str, str]:
    """Industry ("" = none) -> the interaction kind an import's outcome column ("Converted: 1")
    logs for a contact of that industry: a conversion the published rule set scoring that
    contact counts, so a converted person becomes a customer whatever the industry. The
    industry's own conversion comes first (an education contact under the default rule set:
    `enrolled`, not `purchase`); without a published rule set, the industry playbook's."""
    from scoring.playbooks import PLAYBOOKS

    own = {pb.industry: pb.conversion_kinds for pb in PLAYBOOKS.values()}
    rulesets = active_rulesets()
    out = {}
    for industry in ("", *Industry.values):
        preferred = (*own.get(industry, ()), *own[""])
        ruleset = rulesets.for_industry(industry)
        counted = ruleset.policy.conversion_kinds if ruleset else frozenset()
        out[industry] = (next((k for k in preferred if k in counted), None) or min(counted, default=None)
                         or preferred[0])
    return out


def kinds_scored_for(industry: str) -> set[str]:
    """The interaction kinds that matter for a contact of `industry`: those the rule set
    scoring it (its own, else the default) has rules on or counts as conversion. One query."""
    version = (
        RuleSetVersion.objects.filter(ruleset__active_version=F("pk"), ruleset__industry__in=[industry, ""])
        .order_by("-ruleset__industry").values("pk")[:1]  # "" sorts last: the industry's own set first
    )
    scored = Rule.objects.filter(version_id=Subquery(version), interaction_kind__isnull=False)
    converting = RuleSetVersion.conversion_kinds.through.objects.filter(rulesetversion_id=Subquery(version))
    return set(scored.values_list("interaction_kind_id", flat=True).order_by()
               .union(converting.values_list("interactionkind_id", flat=True).order_by()))
