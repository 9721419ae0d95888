"""Login throttling keyed on username + IP address (django-axes): one attacker cannot lock
a whole office behind one NAT address, and the lock lifts after the cool-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from crm import roles

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def axes_on(settings):
    settings.AXES_ENABLED = True  # the shared conftest turns it off for every other test


def _login(username: str, password: str, ip: str):
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return response, client


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_settings_lock_on_username_and_address_not_address_alone():
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)


def test_five_bad_passwords_lock_only_that_user_at_that_address(make_user):
    make_user("sari", roles.SALES)
    make_user("budi", roles.SALES)
    office = "203.0.113.10"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response, client = _login("sari", "wrong-password", office)
        assert not _logged_in(client)

    locked, client = _login("sari", "pw-sari", office)  # even the right password is refused now
    assert locked.status_code == 429 and not _logged_in(client)

    elsewhere, client = _login("sari", "pw-sari", "198.51.100.7")
    assert elsewhere.status_code == 302 and _logged_in(client)
    colleague, client = _login("budi", "pw-budi", office)
    assert colleague.status_code == 302 and _logged_in(client)


def test_lock_lifts_after_the_cool_off(make_user):
    from axes.models import AccessAttempt

    make_user("sari", roles.SALES)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("sari", "wrong-password", "203.0.113.10")
    assert _login("sari", "pw-sari", "203.0.113.10")[0].status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    response, client = _login("sari", "pw-sari", "203.0.113.10")
    assert response.status_code == 302 and _logged_in(client)


def test_four_failures_then_success_resets_the_count(make_user):
    make_user("sari", roles.SALES)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("sari", "wrong-password", "203.0.113.10")
    assert _login("sari", "pw-sari", "203.0.113.10")[0].status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login("sari", "wrong-password", "203.0.113.10")
    assert _login("sari", "pw-sari", "203.0.113.10")[0].status_code == 302


# --- Security round two (issue 15) ------------------------------------------------------------

def test_the_lockout_address_ignores_forwarded_for_without_a_proxy_count(make_user):
    """CRM_NUM_PROXIES unset: a new X-Forwarded-For per attempt does not escape the lockout."""
    make_user("sari", roles.SALES)
    for n in range(5):
        Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").post(
            "/accounts/login/", {"username": "sari", "password": "wrong"})
    client = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.77")
    client.post("/accounts/login/", {"username": "sari", "password": "pw-sari"})
    assert not _logged_in(client)


def test_the_lockout_address_follows_the_proxy_count(settings):
    """Axes, the throttles and every other address check share one rule (crm.net.client_ip)."""
    from axes.helpers import get_client_ip_address
    from django.test import RequestFactory

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5")
    assert get_client_ip_address(request) == "10.0.0.1"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert get_client_ip_address(request) == "203.0.113.5"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}
    assert get_client_ip_address(request) == "198.51.100.7"
