"""The profile page shows the user's API token and (re)generates it; `drf_create_token` works too."""

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
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    first = Token.objects.get(user=marketer).key
    assert first.encode() in client.get(reverse("profile")).content

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
