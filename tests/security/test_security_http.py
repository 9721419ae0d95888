"""CSRF on every form, security headers (CSP always; HSTS and secure cookies in
production), `check --deploy` clean with production settings, and oversize bodies refused."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from contacts.models import Contact
from tests.security.authz_table import ALLOW, MATRIX

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls_full")]
REPO = Path(__file__).resolve().parents[2]


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "PYTEST"))}
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_ALLOWED_HOSTS="crm.example.co.id",
               DJANGO_SETTINGS_MODULE="crm.settings", **extra)
    return env


# --- CSRF ----------------------------------------------------------------------------------

class _Forms(HTMLParser):
    """Collects each <form method="post"> and whether it carries the CSRF token."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._open = {"action": attrs.get("action", ""), "post": (attrs.get("method") or "").lower() == "post", "token": False}
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and attrs.get("name") == "csrfmiddlewaretoken" and attrs.get("value"):
            self._open["token"] = True

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def _html_pages() -> list[tuple[str, object]]:
    """GET pages an admin may open (from the authorization matrix), without the API and admin site."""
    pages = []
    for key, rows in sorted(MATRIX.items()):
        for row in rows:
            if row.method == "GET" and row.admin in (200, ALLOW) and not row.path and "-" not in key and key != "healthz":
                pages.append((key, row))
    return pages


def test_every_post_form_on_every_page_carries_the_csrf_token(admin, make_contact, playbooks):
    from tests.security.test_security_authz import _objects_for, _ref, _shared_objects

    client = Client()
    client.force_login(admin)
    objects = {**_shared_objects(), **_objects_for(admin)}
    checked = 0
    for key, row in _html_pages():
        url = reverse(key, kwargs={name: _ref(ref, objects) for name, ref in row.kw.items()})
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        missing = [f["action"] or url for f in parser.forms if f["post"] and not f["token"]]
        assert not missing, f"{url}: POST forms without a CSRF token: {missing}"
        checked += sum(f["post"] for f in parser.forms)
    anonymous = Client().get(reverse("login")).content.decode()
    assert 'name="csrfmiddlewaretoken"' in anonymous
    assert checked > 10


def test_posts_without_the_token_are_refused(marketer, make_contact):
    contact = make_contact(consent_email=True)
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": "maya", "password": "pw-maya"}).status_code == 403
    client.force_login(marketer)
    url = reverse("privacy:consent_withdraw", args=[contact.pk, "email"])
    assert client.post(url).status_code == 403
    contact.refresh_from_db()
    assert contact.consent_email is True
    # The same click with the token from the page works.
    page = client.get(reverse("privacy:overview", args=[contact.pk])).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 302


def test_api_with_a_session_needs_the_token_too(marketer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    response = client.post("/api/contacts/", data=json.dumps({"full_name": "Tanpa Token"}), content_type="application/json")
    assert response.status_code == 403
    assert not Contact.objects.filter(full_name="Tanpa Token").exists()


# --- Headers -------------------------------------------------------------------------------

def test_content_security_policy_and_framing_headers(client, admin):
    client.force_login(admin)
    for url in (reverse("login"), reverse("home"), reverse("audit:list")):
        response = client.get(url)
        csp = response.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, url
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
r = Client().get("/healthz", secure=True, HTTP_HOST="crm.example.co.id")
plain = Client().get("/healthz", HTTP_HOST="crm.example.co.id")
print(json.dumps({
    "debug": settings.DEBUG, "session_secure": settings.SESSION_COOKIE_SECURE, "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "session_httponly": settings.SESSION_COOKIE_HTTPONLY, "hsts": r.get("Strict-Transport-Security", ""),
    "csp": r.get("Content-Security-Policy", ""), "plain_status": plain.status_code, "plain_location": plain.get("Location", ""),
}))
"""


def test_production_settings_secure_cookies_hsts_and_https_redirect():
    done = subprocess.run([sys.executable, "-c", PRODUCTION_PROBE], env=_production_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["session_secure"] and probe["csrf_secure"] and probe["session_httponly"]
    assert "max-age=31536000" in probe["hsts"] and "includeSubDomains" in probe["hsts"]
    assert "default-src 'self'" in probe["csp"]
    assert probe["plain_status"] == 301 and probe["plain_location"].startswith("https://")


def test_check_deploy_is_clean_with_production_settings():
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          env=_production_env(), cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "System check identified no issues" in done.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    env.pop("DJANGO_SECRET_KEY")
    done = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "DJANGO_SECRET_KEY" in done.stderr


def _bare(command: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")}  # no DJANGO_* at all
    return subprocess.run([sys.executable, "manage.py", *command.split()], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("command", ["migrate --plan", "check"])
def test_every_command_names_the_missing_setting(command):
    # In a bare environment Django kept the settings error to itself and failed these with "Models aren't
    # loaded yet" instead.
    done = _bare(command)
    assert done.returncode != 0 and "DJANGO_SECRET_KEY" in done.stderr and "AppRegistryNotReady" not in done.stderr


def test_a_command_that_only_reads_the_code_needs_no_secret():
    """makemigrations signs nothing and serves nothing: in a bare environment it still says whether a
    migration is missing (with a throwaway key), where before it refused like a server."""
    done = _bare("makemigrations --check --dry-run")
    assert done.returncode == 0 and "No changes detected" in done.stdout, done.stderr


def test_a_missing_environment_does_not_mean_debug():
    """DJANGO_DEBUG unset is production: DEBUG off, so a secret key and allowed hosts are required."""
    env = _production_env()
    env.pop("DJANGO_DEBUG")
    done = subprocess.run([sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                           "print(settings.DEBUG)"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
    env.pop("DJANGO_SECRET_KEY")
    done = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "DJANGO_SECRET_KEY" in done.stderr and "DJANGO_DEBUG=1" in done.stderr


def test_development_entry_points_turn_debug_on_explicitly():
    """`make demo`/`make messages` and the test settings say DJANGO_DEBUG=1 themselves."""
    makefile = (REPO / "Makefile").read_text()
    for target in ("demo", "messages"):
        recipe = makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]
        assert "manage.py" in recipe and "$(DEV_ENV)" in recipe, target
    assert "DJANGO_DEBUG=$${DJANGO_DEBUG:-1}" in makefile
    assert os.environ.get("DJANGO_DEBUG") == "1"  # set by crm/settings_test.py for this run and its subprocesses


# --- Oversize bodies ---------------------------------------------------------------------------

def test_oversize_bodies_are_refused_with_400(settings, client, admin):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    big = "x" * 20_000
    assert client.post(reverse("login"), {"username": big, "password": big}).status_code == 400
    client.force_login(admin)
    response = client.post("/api/contacts/", data=json.dumps({"full_name": big}), content_type="application/json")
    assert response.status_code in (400, 413)
    assert "Traceback" not in response.content.decode()
