"""Schemathesis hooks for tests/api/test_api_schemathesis.py (loaded with SCHEMATHESIS_HOOKS).

Every check runs (`--checks all`) except that positive_data_acceptance is replaced by
`schema_valid_data_accepted`, the same check with one documented exception: some rules
depend on what is stored or on the clock, which no OpenAPI schema can state (a kind or
contact must exist, a name must be free, a time may not be in the future, a phone number
must be a possible number). A 400 for schema-valid data passes only when every field it
names is listed below for that operation, with the rule; any other 400 (an unknown key, a
wrong type, a blank value, a bound) is a contract mismatch and fails the run.
"""

from __future__ import annotations

import json
import re

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Operation label -> field paths (regular expressions; "N." is a batch item's index) whose
# 400s come from stored data, the clock, or a rule OpenAPI 3.0 cannot state; the rule is
# described in the field's or the operation's description.
PARSES = "an email address or a phone number that parses (libphonenumber), and not another contact's"
STATE_RULES: dict[str, dict[str, str]] = {
    "POST /api/contacts/": {r"email|phone": PARSES, r"owner": "an active sales rep"},
    "PATCH /api/contacts/{id}/": {r"email|phone": PARSES, r"owner": "an active sales rep",
                                  r"external_ref": "not another contact's reference in the same external_source"},
    "POST /api/interactions/": {
        r"(\d+\.)?(contact|contact_email|contact_phone)": "a contact you may change, found by id, email or phone",
        r"(\d+\.)?kind": "an existing interaction kind",
        r"(\d+\.)?occurred_at": "not in the future (the clock)",
    },
    "POST /api/notes/": {r"contact": "a contact you may change"},
    "POST /api/capture/": {r"email|phone": PARSES},
    "POST /api/interaction-kinds/": {r"slug": "not an existing kind"},
    "GET /api/contacts/": {r"segment": "an existing segment", r"owner": "a user id, me or none"},
    "POST /api/segments/": {
        r"name": "not another segment's name",
        r"filters(\..*)?": "keys attributes.<key>[__<op>] (OpenAPI 3.0 has no patternProperties) and values the contact "
                        "list's filter accepts (an existing segment or owner, a parsable time)",
    },
    "PATCH /api/rulesets/{id}/draft/": {
        r"prospect_threshold": "at least the lead threshold (stored or given)",
        r"conversion_kinds\.\d+": "an existing interaction kind",
        r"rules\.\d+\.(interaction_kind|field|operator|value|window_days|max_occurrences)":
            "an existing kind; the fields each rule type and operator need",
    },
    "POST /api/rulesets/{id}/preview/": {r"version": "the rule set has a draft, or a version is named"},
    "POST /api/messages/": {r"subject|body": "an email has a subject and the unsubscribe link; the template parses"},
    "PATCH /api/messages/{id}/": {r"subject|body": "as above, for the stored channel"},
    "DELETE /api/messages/{id}/": {r"message": "no sequence still sends it"},
    "POST /api/sequences/": {r"steps(\.\d+\.message)?": "existing email messages that fit the trigger stage",
                             r"from_email": "a sender address (“Name <address>” or an address)",
                             r"segment": "an existing segment"},
    "POST /api/campaigns/": {r"message|segment": "an email message and a segment that exist"},
    "POST /api/campaigns/{id}/send/": {r"segment|campaign": "a draft campaign whose segment still exists"},
    "POST /api/contacts/{id}/send/": {r"message": "the stage guardrails and the contact's consent allow it"},
    "POST /api/webhooks/": {r"url": "a host that resolves (DNS) to a public address"},
    "GET /api/tasks/": {r"assignee": "a user id or me"},
}
for _same, _as in (("PUT /api/segments/{id}/", "POST /api/segments/"), ("PATCH /api/segments/{id}/", "POST /api/segments/"),
                   ("POST /api/rulesets/{id}/publish/", "POST /api/rulesets/{id}/preview/"),
                   ("PATCH /api/sequences/{id}/", "POST /api/sequences/"),
                   ("PUT /api/webhooks/{id}/", "POST /api/webhooks/"), ("PATCH /api/webhooks/{id}/", "POST /api/webhooks/")):
    STATE_RULES[_same] = STATE_RULES[_as]


def _state_rule_only(label: str, response) -> bool:
    rules = STATE_RULES.get(label)
    if response.status_code != 400 or not rules:
        return False
    try:
        fields = json.loads(response.content)["fields"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(fields) and all(any(re.fullmatch(rule, path) for rule in rules) for path in fields)


@schemathesis.check
def schema_valid_data_accepted(ctx, response, case):
    """positive_data_acceptance, except for the stored-data and clock rules above."""
    if _state_rule_only(case.operation.label, response):
        return None
    return positive_data_acceptance(ctx, response, case)
