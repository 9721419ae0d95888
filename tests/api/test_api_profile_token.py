"""The profile page creates and rotates the user's API token, showing it once; tokens expire
after CRM_API_TOKEN_DAYS; `drf_create_token` works too."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def test_profile_creates_shows_and_regenerates_the_token(client_for, marketer, api_for):
    client = client_for(marketer)
    page = client.get(reverse("profile"))
    assert page.status_code == 200
    assert b"Create a token" in page.content or b"Buat token" in page.content
    assert not Token.objects.filter(user=marketer).exists()

    response = client.post(reverse("profile"))
    assert response.status_code == 200  # the answer shows the new token, once (see the show-once test)
    first = Token.objects.get(user=marketer).key
    assert first.encode() in response.content

    client.post(reverse("profile"))
    second = Token.objects.get(user=marketer).key
    assert second != first

    api = api_for()
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.get("/api/contacts/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api.get("/api/contacts/").status_code == 200


def test_profile_needs_a_login(client):
    response = client.get(reverse("profile"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_token_never_lands_in_the_audit_log(client_for, admin):
    from crm.models import AuditEvent

    client_for(admin).post(reverse("profile"))
    key = Token.objects.get(user=admin).key
    event = AuditEvent.objects.get(object_type="auth.user", object_id=str(admin.pk))
    assert key not in str(event.details) and key not in event.object_id


def test_drf_create_token_command(admin, capsys):
    call_command("drf_create_token", admin.username)
    assert Token.objects.get(user=admin).key in capsys.readouterr().out


# --- Security round two (issue 15) ------------------------------------------------------------

def test_the_token_is_shown_once_and_never_cached(client_for, marketer):
    client = client_for(marketer)
    created = client.post(reverse("profile"))
    assert created.status_code == 200
    key = Token.objects.get(user=marketer).key
    assert key.encode() in created.content
    assert "no-store" in created["Cache-Control"]
    later = client.get(reverse("profile"))
    assert "no-store" in later["Cache-Control"]
    assert key.encode() not in later.content and key[:8].encode() not in later.content


def test_an_expired_token_fails_with_a_clear_message(api_for, marketer, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    settings.CRM_API_TOKEN_DAYS = 90
    token = Token.objects.create(user=marketer)
    api = api_for()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/contacts/").status_code == 200  # and now in the token cache (crm.tokens)
    later = timezone.now() + timedelta(days=91)  # 91 days pass (a token's `created` never changes by itself)
    monkeypatch.setattr("crm.tokens.timezone.now", lambda: later)
    response = api.get("/api/contacts/")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed" and "expired" in response.json()["detail"]


def test_the_profile_says_when_the_token_expires_and_rotates_it(client_for, marketer, settings):
    settings.CRM_API_TOKEN_DAYS = 30
    client = client_for(marketer)
    client.post(reverse("profile"))
    first = Token.objects.get(user=marketer)
    page = client.get(reverse("profile")).content.decode()
    assert "Expires" in page
    client.post(reverse("profile"))
    assert Token.objects.get(user=marketer).key != first.key


def test_expiry_zero_means_tokens_do_not_expire(api_for, marketer, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.CRM_API_TOKEN_DAYS = 0
    token = Token.objects.create(user=marketer)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=3650))
    api = api_for()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/contacts/").status_code == 200
