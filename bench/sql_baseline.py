"""The SQL baselines of figure 1: the published rules as one hand-written SQL statement.

`score_update_sql`: windows, caps (the most recent N), decay, data conditions and
attribute rules are computed in PostgreSQL and the score is written with one
`UPDATE … FROM`, the way a SQL-only scorer would do it; there is no breakdown and no
stage decision (it also checks that the engine's scores are reproduced).

`hand_written_update_sql` (issue 21's second baseline): the statement a SQL-only scorer
would run every night: windows, caps, negative points, data conditions and attribute
rules, no decay, and the stage from the same thresholds (conversion → customer; score
and an intent interaction in the intent window → prospect; score → lead; forward only,
pinned stages kept; no demotion), score and stage written with one `UPDATE … FROM`.

Both only support the operators the playbooks use, which is all a yardstick needs.
"""

from __future__ import annotations

from datetime import datetime

from scoring import engine
from scoring.selectors import ActiveRuleSets


def _lit(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def _numeric(expr: str) -> str:
    return f"(CASE WHEN {expr} ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' THEN ({expr})::numeric END)"


def _condition(expr: str, cond: engine.Condition, *, boolean: bool = False) -> str:
    """SQL for engine.condition_holds on a text expression (casefolded, trimmed)."""
    norm = f"lower(btrim({expr}))"
    op, value = cond.op, cond.value
    if op == "is_set":
        return f"coalesce(btrim({expr}), '') <> ''"
    if op == "is_blank":
        return f"coalesce(btrim({expr}), '') = ''"
    if boolean and op == "eq":
        return f"coalesce({expr} = {_lit(bool(value))}, false)"
    if op == "eq":
        return f"coalesce({norm} = lower({_lit(value)}), false)"
    if op == "in":
        return f"coalesce({norm} = ANY(ARRAY[{', '.join('lower(' + _lit(v) + ')' for v in value)}]), false)"
    if op == "contains":
        return f"coalesce(strpos({norm}, lower({_lit(value)})) > 0, false)"
    comparisons = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    if op in comparisons:
        return f"coalesce({_numeric(expr)} {comparisons[op]} {_lit(value)}, false)"
    raise NotImplementedError(f"operator {op} is not in the SQL baseline")


def _field(name: str) -> tuple[str, bool]:
    if name == "email_domain":
        return "split_part(c.email, '@', 2)", False
    if name.startswith(engine.ATTRIBUTES_PREFIX):
        return f"(c.attributes ->> {_lit(name[len(engine.ATTRIBUTES_PREFIX):])})", False
    boolean = engine.ATTRIBUTE_FIELDS.get(name) == "bool"
    return f"c.{name}", boolean


def score_update_sql(rulesets: ActiveRuleSets, now: datetime) -> tuple[str, dict]:
    """`UPDATE contacts_contact SET score = …` for every contact in one statement."""
    scores, ruleset_key = _scores_sql(rulesets, decay=True)
    return f"WITH {scores} UPDATE contacts_contact c SET score = s.score FROM scores s WHERE c.id = s.id", {"now": now}


def hand_written_update_sql(rulesets: ActiveRuleSets, now: datetime) -> tuple[str, dict]:
    """Score and stage of every contact, without decay, in one `UPDATE … FROM (aggregate)`."""
    scores, ruleset_key = _scores_sql(rulesets, decay=False)
    policies, signal_kinds = [], set()
    for industry, ruleset in rulesets.by_industry.items():
        p = ruleset.policy
        signal_kinds |= p.intent_kinds | p.conversion_kinds
        policies.append(
            f"({_lit(industry)}, {int(p.lead_threshold)}, {int(p.prospect_threshold)}, {_lit(bool(p.prospect_requires_intent))}, "
            f"{'NULL' if p.intent_window_days is None else int(p.intent_window_days)}::int, "
            f"ARRAY[{', '.join(_lit(k) for k in sorted(p.intent_kinds)) or 'NULL'}]::text[], "
            f"ARRAY[{', '.join(_lit(k) for k in sorted(p.conversion_kinds)) or 'NULL'}]::text[])"
        )
    stages = "ARRAY['contact', 'lead', 'prospect', 'customer']"
    sql = f"""
        WITH {scores},
        policies(rs, lead, prospect, requires_intent, intent_days, intent_kinds, conversion_kinds) AS (VALUES {', '.join(policies)}),
        signals AS (
            SELECT i.contact_id,
                   bool_or(i.kind_id = ANY(p.conversion_kinds)) AS converted,
                   bool_or(i.kind_id = ANY(p.intent_kinds)
                           AND (p.intent_days IS NULL OR i.occurred_at >= %(now)s - make_interval(days => p.intent_days))) AS intent
            FROM contacts_interaction i
            JOIN contacts_contact c ON c.id = i.contact_id
            JOIN policies p ON p.rs = {ruleset_key}
            WHERE i.kind_id IN ({', '.join(_lit(k) for k in sorted(signal_kinds)) or 'NULL'}) AND i.occurred_at <= %(now)s
            GROUP BY i.contact_id
        ),
        earned AS (
            SELECT s.id, s.score,
                   CASE WHEN coalesce(g.converted, false) THEN 4
                        WHEN s.score >= p.prospect AND (coalesce(g.intent, false) OR NOT p.requires_intent) THEN 3
                        WHEN s.score >= p.lead THEN 2 ELSE 1 END AS earned_rank
            FROM scores s
            JOIN contacts_contact c ON c.id = s.id
            JOIN policies p ON p.rs = {ruleset_key}
            LEFT JOIN signals g ON g.contact_id = s.id
        )
        UPDATE contacts_contact c
        SET score = e.score,
            stage = CASE WHEN c.stage_pinned THEN c.stage
                         ELSE ({stages})[greatest(array_position({stages}, c.stage::text), e.earned_rank)] END
        FROM earned e WHERE c.id = e.id
    """
    return sql, {"now": now}


def _scores_sql(rulesets: ActiveRuleSets, *, decay: bool) -> tuple[str, str]:
    """The `rules`, …, `scores` common table expressions (id, score of every contact that
    does not object to profiling), and the SQL naming a contact's rule set key."""
    rule_rows, conditions, attribute_terms = [], [], []
    own = [industry for industry in rulesets.by_industry if industry]
    ruleset_key = f"(CASE WHEN c.industry IN ({', '.join(_lit(i) for i in own) or 'NULL'}) THEN c.industry ELSE '' END)"
    for industry, ruleset in rulesets.by_industry.items():
        half_life = ruleset.policy.decay_half_life_days if decay else None
        for rule in ruleset.interaction_rules:
            cond_id = 0
            if rule.condition is not None:
                conditions.append(_condition(f"(i.data ->> {_lit(rule.condition.field)})", rule.condition))
                cond_id = len(conditions)
            rule_rows.append(
                f"({_lit(industry)}, {rule.id}, {_lit(rule.kind)}, {float(rule.points)!r}::float8, "
                f"{'NULL' if rule.window_days is None else rule.window_days}::int, "
                f"{'NULL' if rule.max_occurrences is None else rule.max_occurrences}::int, "
                f"{'NULL' if not half_life or half_life <= 0 else repr(float(half_life))}::float8, {cond_id})"
            )
        for rule in ruleset.attribute_rules:
            expr, boolean = _field(rule.condition.field)
            attribute_terms.append(
                f"CASE WHEN {ruleset_key} = {_lit(industry)} AND {_condition(expr, rule.condition, boolean=boolean)} "
                f"THEN round({float(rule.points)!r}::numeric, 2) ELSE 0 END"
            )
    cond_sql = " OR ".join(f"(r.cond = {n} AND {sql})" for n, sql in enumerate(conditions, start=1))
    sql = f"""
        rules(rs, rule_id, kind, points, window_days, cap, half_life, cond) AS (VALUES {', '.join(rule_rows)}),
        matched AS (
            SELECT i.contact_id, r.rule_id, r.cap,
                   r.points * CASE WHEN r.half_life IS NULL THEN 1
                                   ELSE power(0.5, extract(epoch FROM (%(now)s - i.occurred_at)) / 86400.0 / r.half_life) END AS pts,
                   row_number() OVER (PARTITION BY i.contact_id, r.rule_id ORDER BY i.occurred_at DESC, i.id DESC) AS rn
            FROM contacts_interaction i
            JOIN contacts_contact c ON c.id = i.contact_id
            JOIN rules r ON r.kind = i.kind_id AND r.rs = {ruleset_key}
            WHERE i.occurred_at <= %(now)s AND NOT c.objects_to_profiling
              AND (r.window_days IS NULL OR i.occurred_at >= %(now)s - make_interval(days => r.window_days))
              AND (r.cond = 0 {('OR ' + cond_sql) if cond_sql else ''})
        ),
        per_rule AS (
            SELECT contact_id, round(sum(pts)::numeric, 2) AS pts FROM matched
            WHERE cap IS NULL OR rn <= cap GROUP BY contact_id, rule_id
        ),
        per_contact AS (SELECT contact_id, sum(pts) AS pts FROM per_rule GROUP BY contact_id),
        scores AS (
            SELECT c.id, round(coalesce(p.pts, 0) + {' + '.join(attribute_terms) or '0'})::int AS score
            FROM contacts_contact c LEFT JOIN per_contact p ON p.contact_id = c.id
            WHERE NOT c.objects_to_profiling
        )"""
    return sql, ruleset_key
