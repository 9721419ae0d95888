"""The Dockerfile, docker-compose.yml and CI's production smoke test start Saring the same way:
through bin/saring's roles. A command written out in one of them would drift from the others."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from django.conf import settings

from crm.apps import database_description

ROOT = Path(settings.BASE_DIR)
ROLES = {"build", "migrate", "web", "worker", "beat"}


def saring_roles() -> set[str]:
    return set(re.findall(r"^    (\w+)\)$", (ROOT / "bin" / "saring").read_text(), flags=re.M))


def test_bin_saring_has_exactly_the_documented_roles():
    assert saring_roles() == ROLES
    usage = subprocess.run([str(ROOT / "bin" / "saring")], capture_output=True, text=True)
    assert usage.returncode == 2 and all(f"bin/saring {role}" in usage.stdout for role in ROLES)
    unknown = subprocess.run([str(ROOT / "bin" / "saring"), "serve"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown role 'serve'" in unknown.stderr


def test_compose_services_run_bin_saring_roles():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    commands = {name: service.get("command") for name, service in compose["services"].items() if "build" in service}
    assert commands == {"web": ["bin/saring", "migrate", "web"], "worker": ["bin/saring", "worker"],
                        "beat": ["bin/saring", "beat"]}


def test_dockerfile_builds_and_starts_through_bin_saring():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN .*\\\n(?:.*\\\n)*\s*bin/saring build$", dockerfile, flags=re.M)
    cmd = re.search(r"^CMD (.+)$", dockerfile, flags=re.M)
    assert cmd and json.loads(cmd.group(1)) == ["bin/saring", "web"]
    assert re.search(r"^ENV DJANGO_DEBUG=0$", dockerfile, flags=re.M), "a deployed image never runs in debug"
    assert "requirements-dev" not in dockerfile


def test_the_smoke_test_starts_every_process_role_through_bin_saring():
    smoke = (ROOT / ".ci" / "smoke").read_text()
    assert "bin/saring build migrate" in smoke
    assert {"web", "worker", "beat"} <= set(re.findall(r"^start \w+ (\w+)$", smoke, flags=re.M))
    assert "-r requirements.txt" in smoke and "requirements-dev" not in smoke


def test_the_startup_line_names_the_real_database_engine(caplog, settings):
    from django.apps import apps
    from django.db import connection

    settings.EMBEDDED_DATABASE, settings.EMBEDDED_BROKER = False, True  # a DATABASE_URL set, no broker
    with caplog.at_level("INFO", logger="crm"):
        apps.get_app_config("crm").ready()
    line = next(r.getMessage() for r in caplog.records if "embedded default" in r.getMessage())
    expected = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[connection.vendor]
    described = line.split(")")[0]
    assert f"database: {expected} " in described and ({"SQLite", "PostgreSQL"} - {expected}).pop() not in described

    assert database_description({"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/crm.sqlite3"}) == \
        "SQLite /srv/crm.sqlite3"
    assert database_description({"ENGINE": "django.db.backends.postgresql", "NAME": "crm"}) == "PostgreSQL crm"
