"""The permission matrix: every role × endpoint × own/other object, as a data table.

`own` is a contact owned by the sales rep `sari`, `other` one owned by the rep `budi`.
A rep never learns that another rep's contact exists: reading it is 404 and naming it
in a write is a 400 "no contact you may change", never a 403."""

from __future__ import annotations

import pytest
from django.db import transaction

from contacts.services import note_add
from scoring.models import RuleSet
from scoring.rulesets import version_draft

pytestmark = pytest.mark.django_db

ROLES = ("admin", "marketer", "manager", "rep", "norole", "anon")


def every(status: int, **overrides: int) -> dict[str, int]:
    """Expected status per role: `status` for the four CRM roles, 403 without a role, 401 without credentials."""
    return {"admin": status, "marketer": status, "manager": status, "rep": status, "norole": 403, "anon": 401, **overrides}


def only(roles: str, status: int) -> dict[str, int]:
    allowed = roles.split()
    return {role: status if role in allowed else 403 for role in ROLES if role not in ("norole", "anon")} | {
        "norole": 403, "anon": 401}


# (method, path, body, expected status per role). {own}, {other}, {other_interaction}, {other_note},
# {ruleset} and {role} are filled in per request.
MATRIX = [
    ("GET", "/api/contacts/", None, every(200)),
    ("GET", "/api/contacts/{own}/", None, every(200)),
    ("GET", "/api/contacts/{other}/", None, every(200, rep=404)),
    ("POST", "/api/contacts/", {"full_name": "New", "email": "{role}@new.example.co.id"}, every(201)),
    ("PATCH", "/api/contacts/{own}/", {"city": "Medan"}, every(200)),
    ("PATCH", "/api/contacts/{other}/", {"city": "Medan"}, every(200, rep=404)),
    ("PATCH", "/api/contacts/{own}/", {"stage": "prospect"}, every(200, marketer=400, rep=400)),
    ("PATCH", "/api/contacts/{own}/", {"owner": None}, every(200, marketer=400, rep=400)),
    ("GET", "/api/interactions/", None, every(200)),
    ("GET", "/api/interactions/{other_interaction}/", None, every(200, rep=404)),
    ("POST", "/api/interactions/", {"contact": "{own}", "kind": "page_viewed"}, every(201)),
    ("POST", "/api/interactions/", {"contact": "{other}", "kind": "page_viewed"}, every(201, rep=400)),
    ("GET", "/api/notes/", None, every(200)),
    ("GET", "/api/notes/{other_note}/", None, every(200, rep=404)),
    ("POST", "/api/notes/", {"contact": "{own}", "body": "Called, wants a quote"}, every(201)),
    ("POST", "/api/notes/", {"contact": "{other}", "body": "Called"}, every(201, rep=400)),
    ("GET", "/api/interaction-kinds/", None, every(200)),
    ("POST", "/api/interaction-kinds/", {"slug": "visited_booth", "name": "Visited the booth", "intent_level": "interest"},
     only("admin", 201)),
    ("POST", "/api/capture/", {"email": "{role}@capture.example.co.id"}, only("admin marketer", 201)),
    ("GET", "/api/rulesets/", None, only("admin marketer", 200)),
    ("GET", "/api/rulesets/{ruleset}/", None, only("admin marketer", 200)),
    ("GET", "/api/rulesets/{ruleset}/draft/", None, only("admin marketer", 200)),
    ("PATCH", "/api/rulesets/{ruleset}/draft/", {"note": "tweak"}, only("admin", 200)),
    ("POST", "/api/rulesets/{ruleset}/preview/", {}, only("admin", 200)),
    ("POST", "/api/rulesets/{ruleset}/publish/", {}, only("admin", 200)),
    ("GET", "/api/funnel/", None, every(200)),
]


@pytest.fixture
def world(admin, marketer, manager, rep, other_rep, make_user, make_contact, log, playbooks, api_for):
    own = make_contact(owner=rep)
    other = make_contact(owner=other_rep)
    ruleset = RuleSet.objects.get(industry="")
    version_draft(ruleset=ruleset)
    users = {"admin": admin, "marketer": marketer, "manager": manager, "rep": rep, "norole": make_user("tamu")}
    return {
        "ids": {
            "own": own.pk, "other": other.pk, "ruleset": ruleset.pk,
            "other_interaction": log(other, "page_viewed").interaction.pk,
            "other_note": note_add(contact=other, author=other_rep, body="Mine, not yours").pk,
        },
        "clients": {**{role: api_for(user) for role, user in users.items()}, "anon": api_for()},
    }


def _fill(value, ids: dict, role: str):
    if isinstance(value, str):
        filled = value.format(role=role, **ids)
        return int(filled) if filled.isdigit() and value.startswith("{") else filled
    if isinstance(value, dict):
        return {k: _fill(v, ids, role) for k, v in value.items()}
    return value


@pytest.mark.parametrize("method, path, body, expected", MATRIX, ids=[f"{m} {p} {b or ''}" for m, p, b, _e in MATRIX])
def test_permission_matrix(world, method, path, body, expected):
    outcomes = {}
    for role in ROLES:
        client = world["clients"][role]
        url = _fill(path, world["ids"], role)
        # Each role's request runs in its own rolled-back transaction: no role sees another's writes.
        with transaction.atomic():
            if body is None:
                response = getattr(client, method.lower())(url)
            else:
                response = getattr(client, method.lower())(url, _fill(body, world["ids"], role), format="json")
            transaction.set_rollback(True)
        outcomes[role] = response.status_code
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "detail", "fields"}, response.content
    assert outcomes == expected


def test_a_rep_who_may_read_everything_still_changes_only_own_contacts(settings, api_for, rep, other_rep, make_contact, catalog):
    settings.CRM_SALES_CAN_READ_ALL = True
    theirs = make_contact(owner=other_rep)
    client = api_for(rep)
    assert client.get(f"/api/contacts/{theirs.pk}/").status_code == 200
    refused = client.patch(f"/api/contacts/{theirs.pk}/", {"city": "Medan"}, format="json")
    assert (refused.status_code, refused.json()["error"]) == (403, "permission_denied")
    logged = client.post("/api/interactions/", {"contact": theirs.pk, "kind": "page_viewed"}, format="json")
    assert logged.status_code == 400 and "contact" in logged.json()["fields"]
