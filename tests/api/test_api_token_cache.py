"""The token cache (crm.tokens): a cached token costs no query, and every way a token stops
working drops its entry at once: rotation, deletion, a deactivated or deleted user, a change
of roles. Runs on the embedded default (local memory cache) and on PostgreSQL with Redis."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from crm import roles
from crm.tokens import token_regenerate

pytestmark = pytest.mark.django_db


def _token_queries(client, path="/api/interaction-kinds/") -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    return status, sum("authtoken_token" in q["sql"] or "auth_group" in q["sql"] for q in queries.captured_queries)


def test_a_cached_token_costs_no_query(api_for, marketer):
    client = api_for(marketer)
    assert _token_queries(client) == (200, 2)  # the token with its user, then the roles
    assert _token_queries(client) == (200, 0)


def test_a_rotated_token_stops_working_at_once(api_for, marketer):
    client = api_for(marketer)
    assert client.get("/api/contacts/").status_code == 200  # now cached
    new = token_regenerate(user=marketer)
    assert client.get("/api/contacts/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    assert client.get("/api/contacts/").status_code == 200


def test_a_deleted_token_stops_working_at_once(api_for, marketer):
    client = api_for(marketer)
    assert client.get("/api/contacts/").status_code == 200
    Token.objects.filter(user=marketer).delete()
    assert client.get("/api/contacts/").status_code == 401


def test_a_deactivated_or_deleted_user_stops_at_once(api_for, marketer, admin):
    client = api_for(marketer)
    assert client.get("/api/contacts/").status_code == 200
    marketer.is_active = False
    marketer.save()
    assert client.get("/api/contacts/").status_code == 401

    other = api_for(admin)
    assert other.get("/api/contacts/").status_code == 200
    admin.delete()
    assert other.get("/api/contacts/").status_code == 401


def test_a_change_of_roles_applies_at_once(api_for, marketer):
    client = api_for(marketer)
    assert client.get("/api/rulesets/").status_code == 200  # marketers read rule sets
    marketer.groups.clear()
    assert client.get("/api/rulesets/").status_code == 403
    Group.objects.get(name=roles.MARKETER).user_set.add(marketer)
    assert client.get("/api/rulesets/").status_code == 200
    Group.objects.get(name=roles.MARKETER).user_set.remove(marketer)
    assert client.get("/api/rulesets/").status_code == 403


def test_an_expired_token_is_refused_even_when_cached(api_for, marketer, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    client = api_for(marketer)
    assert client.get("/api/contacts/").status_code == 200  # cached now
    settings.CRM_API_TOKEN_DAYS = 1
    later = timezone.now() + timedelta(days=2)
    monkeypatch.setattr("crm.tokens.timezone.now", lambda: later)
    response = client.get("/api/contacts/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_the_cache_never_holds_the_key_or_the_password(api_for, marketer):
    from django.core.cache import cache

    from crm.tokens import _cache_key

    client = api_for(marketer)
    key = Token.objects.get(user=marketer).key
    assert client.get("/api/contacts/").status_code == 200
    entry = cache.get(_cache_key(key))
    assert entry is not None and key not in _cache_key(key)
    assert marketer.password not in repr(entry) and key not in repr(entry)


def test_an_answer_read_before_the_revocation_is_not_cached_after_it(api_for, marketer):
    from crm import tokens

    client = api_for(marketer)
    key = Token.objects.get(user=marketer).key
    auth = tokens.ExpiringTokenAuthentication()
    # A request reads the token from the database (a cache miss)...
    user, token = super(tokens.ExpiringTokenAuthentication, auth).authenticate_credentials(key)
    Token.objects.filter(user=marketer).delete()  # ...the token is revoked meanwhile...
    tokens._remember(key, user, token)  # ...and that request caches what it read, too late
    assert client.get("/api/contacts/").status_code == 401
