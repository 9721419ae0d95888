"""Authorization matrix: every URL pattern × role × own/other object, expectations in
authz_table.MATRIX. A URL pattern without an entry fails the walker test."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import get_resolver, reverse
from django.urls.resolvers import URLPattern, URLResolver
from django.utils import timezone

from contacts.models import Contact, ContactMerge, CustomField, ImportJob, Interaction, Note, Segment
from crm import roles
from crm.models import BulkAction
from followup.models import Notification, Task
from nurture.models import Campaign, Message
from nurture.sequences import sequence_save
from scoring.models import RescoreRun, RuleSet
from tests.security.authz_table import ADMIN_LOGIN, ALLOW, LOGIN, MATRIX, Row
from webhooks.models import Delivery, Endpoint
from webhooks.models import Event as WebhookEvent

URLCONF = "tests.security.urls_full"
pytestmark = pytest.mark.urls(URLCONF)
ROLES = ("anonymous", "sales", "marketer", "admin")
ALLOWED_STATUSES = {200, 201, 202, 204, 301, 302, 303, 400, 409}


# --- The walker -------------------------------------------------------------------------

def url_keys(patterns=None, prefix: str = "", namespace: str = "") -> set[str]:
    """Every URL pattern of the project as a MATRIX key (the whole admin is "admin:*")."""
    keys: set[str] = set()
    for pattern in patterns if patterns is not None else get_resolver(URLCONF).url_patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            if ns.startswith("admin:"):
                keys.add("admin:*")
                continue
            keys |= url_keys(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            keys.add(namespace + pattern.name if pattern.name else prefix + str(pattern.pattern))
    return keys


def test_every_url_pattern_has_an_entry_in_the_matrix():
    keys = url_keys()
    missing = sorted(keys - set(MATRIX))
    stale = sorted(set(MATRIX) - keys)
    assert not missing, ("URL patterns without an authorization entry in tests/security/authz_table.py; add a Row "
                         "per method with the expected status for anonymous/sales/marketer/admin and own/other objects:\n  "
                         + "\n  ".join(missing))
    assert not stale, "entries for URLs that no longer exist:\n  " + "\n  ".join(stale)


def test_the_walker_sees_nested_and_unnamed_patterns():
    keys = url_keys()
    assert {"healthz", "admin:*", "api/^", "privacy:erase", "audit:list"} <= keys


# --- Objects for one case ------------------------------------------------------------------

_serial = itertools.count(1)


def _objects_for(user) -> dict[str, Any]:
    n = next(_serial)
    contact = Contact.objects.create(full_name=f"Kontak {n}", email=f"authz{n}@example.co.id", owner=user,
                                     consent_email=True, stage_pinned=True)
    return {
        "contact": contact,
        "note": Note.objects.create(contact=contact, author=user, body="Follow up", kind=Note.Kind.NOTE),
        "interaction": Interaction.objects.create(contact=contact, kind_id="page_viewed"),
        "contact_merge": ContactMerge.objects.create(kept=contact, merged_contact_id=10**9 + n),
        "import_job": ImportJob.objects.create(created_by=user, file_name="kontak.csv", content=b"email\na@example.co.id\n",
                                               encoding="utf-8", delimiter=",", header=["email"], total_rows=1),
        "run": RescoreRun.objects.create(started_by=user, reason="authz"),
        "message": (message := Message.objects.create(name=f"Sapaan {n}", channel="email", purpose="first_touch",
                                                       subject="Halo", body="Halo {{ first_name }} {{ unsubscribe_url }}")),
        # Its own message: a message a sequence sends cannot be archived, and the rows above archive `message`.
        "sequence": sequence_save(data={"name": f"Sapa {n}", "trigger_stage": "contact"}, by=None, steps=[{
            "wait_days": 0, "message": Message.objects.create(name=f"Langkah {n}", channel="email", purpose="first_touch",
                                                              subject="Halo", body="Halo {{ unsubscribe_url }}").pk}]),
        "segment": (segment := Segment.objects.create(name=f"Segmen {n}", filters={"stage": "lead"}, created_by=user)),
        "campaign": Campaign.objects.create(message=message, segment=segment, segment_name=segment.name),
        "task": Task.objects.create(contact=contact, assignee=user, due_at=timezone.now(), type="call"),
        "notification": Notification.objects.create(user=user, kind="assigned", contact=contact, key=f"authz:{n}"),
        # Created directly: the service would resolve the host. Nothing is sent (after-commit hooks do not run here).
        "endpoint": (endpoint := Endpoint.objects.create(url=f"https://hooks{n}.example.com/", secret="s" * 20,
                                                         events=["contact.created"])),
        "bulk_action": BulkAction.objects.create(actor=user, action="tag", contact_ids=[contact.pk]),
        "bulk_erase": BulkAction.objects.create(actor=user, action="erase", contact_ids=[contact.pk]),
        "webhook_delivery": Delivery.objects.create(endpoint=endpoint, event=WebhookEvent.objects.create(
            type="contact.created", data={"contact_id": contact.pk})),
    }


def _shared_objects() -> dict[str, Any]:
    from scoring.rulesets import version_draft

    ruleset = RuleSet.objects.get(industry="")
    draft = version_draft(ruleset=ruleset)
    from scoring.models import Backtest

    backtest = Backtest.objects.create(version=ruleset.active_version, kind="backtest", status=Backtest.Status.DONE)
    advisor = Backtest.objects.create(version=ruleset.active_version, kind="advisor", status=Backtest.Status.DONE)
    custom_field, _created = CustomField.objects.get_or_create(key="authz_note", defaults={
        "label_en": "Note", "label_id": "Catatan", "type": CustomField.Type.TEXT})
    return {"ruleset": ruleset, "version": ruleset.active_version, "rule": draft.rules.order_by("pk").first(),
            "kind": "page_viewed", "backtest": backtest, "advisor": advisor, "custom_field": custom_field}


def _ref(value: str, objects: dict[str, Any]) -> Any:
    if value.startswith("="):
        return value[1:]
    obj = objects[value]
    return getattr(obj, "pk", obj)


# --- Running one case ----------------------------------------------------------------------

def _matches(expect, response) -> bool:
    location = urlparse(response.get("Location", "")).path
    to_login = response.status_code == 302 and location in (resolve_url(settings.LOGIN_URL), reverse("admin:login"))
    if expect == LOGIN:
        return response.status_code == 302 and location == resolve_url(settings.LOGIN_URL)
    if expect == ADMIN_LOGIN:
        return response.status_code == 302 and location == reverse("admin:login")
    if expect == ALLOW:
        return response.status_code in ALLOWED_STATUSES and not to_login
    return response.status_code == expect


def _request(client: Client, row: Row, key: str, objects: dict[str, Any]):
    kwargs = {name: _ref(ref, objects) for name, ref in row.kw.items()}
    url = row.path.format(**kwargs) if row.path else reverse(key, kwargs=kwargs)
    data = {k: _ref(v[1:], objects) if isinstance(v, str) and v.startswith("@") else v for k, v in (row.data or {}).items()}
    method = getattr(client, row.method.lower())
    if row.method == "GET":
        return url, method(url)
    if row.json:
        return url, method(url, data=json.dumps(data), content_type="application/json")
    if row.method == "POST":
        return url, method(url, data=data)
    return url, method(url, data=json.dumps(data), content_type="application/json")


def _expectations(row: Row, role: str) -> list[tuple[str, Any]]:
    expect = getattr(row, role)
    if isinstance(expect, tuple):
        return [("own", expect[0]), ("other", expect[1])]
    # A single expectation holds for own and others' objects alike: check both when the URL has one.
    return [("own", expect), ("other", expect)] if row.kw else [("own", expect)]


@pytest.fixture
def people(admin, marketer, rep, other_rep, make_user):
    return {
        "anonymous": (None, rep, other_rep),
        "sales": (rep, rep, other_rep),
        "marketer": (marketer, marketer, make_user("mira", roles.MARKETER)),
        "admin": (admin, admin, make_user("agus", roles.ADMIN, is_staff=True)),
    }


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_authorization_matrix(key, people, playbooks):
    failures = []
    for index, row in enumerate(MATRIX[key]):
        for role in ROLES:
            user, owner, stranger = people[role]
            for ownership, expect in _expectations(row, role):
                with transaction.atomic():
                    objects = {**_shared_objects(), **_objects_for(owner if ownership == "own" else stranger)}
                    client = Client()
                    if user is not None:
                        client.force_login(user)
                    url, response = _request(client, row, key, objects)
                    transaction.set_rollback(True)
                if not _matches(expect, response):
                    failures.append(f"{row.method} {url} as {role} ({ownership}, row {index}): expected {expect}, got "
                                    f"{response.status_code} {response.get('Location', '')}")
    assert not failures, "\n".join(failures)
