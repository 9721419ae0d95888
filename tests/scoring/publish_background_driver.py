"""Publish on the embedded default as it runs in production: a SQLite *file* (WAL, busy timeout,
IMMEDIATE transactions) and eager Celery, in a fresh Django process (the test database is an
in-memory SQLite, where crm.background runs inline). Prints one JSON line.

    DATABASE_URL=sqlite:////tmp/x.sqlite3 python tests/scoring/publish_background_driver.py 3000

Kept as a script (not imported by pytest), like tests/faults/driver.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.contrib.messages import get_messages  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from contacts.catalog import catalog_ensure  # noqa: E402
from contacts.models import Contact  # noqa: E402
from crm import roles  # noqa: E402
from crm.background import background_wait  # noqa: E402
from crm.celery import app  # noqa: E402
from scoring.models import RescoreRun, RuleSet  # noqa: E402
from scoring.rulesets import playbook_load, version_draft, version_policy_update  # noqa: E402


def main(n: int) -> None:
    call_command("migrate", verbosity=0, interactive=False)
    catalog_ensure()
    playbook_load(name="general", publish=True)  # no contacts yet: its rescore has nothing to do
    assert background_wait(60)
    Group.objects.get_or_create(name=roles.ADMIN)
    admin = get_user_model().objects.create_user(username="admin", password="pw-admin-background")
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    # Contacts with a phone score 5 under the general playbook; the draft makes 5 a lead.
    Contact.objects.bulk_create(Contact(full_name=f"Orang {i}", email=f"orang{i}@contoh.co.id", phone=f"+62812{i:07d}",
                                        industry="other") for i in range(n))
    default = RuleSet.objects.get(industry="")
    draft = version_draft(ruleset=default, by=admin)
    version_policy_update(version=draft, values={"lead_threshold": 5}, by=admin)

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(admin)
    client.get(reverse("rules:draft", args=[default.pk]))  # a warm process, as a running server is
    started = time.perf_counter()
    response = client.post(reverse("rules:publish", args=[default.pk]))
    post_seconds = time.perf_counter() - started
    said = [str(m) for m in get_messages(response.wsgi_request)]
    run = RescoreRun.objects.get(version=draft)
    early = client.get(reverse("rules:progress", args=[run.pk])).json()
    page = client.get(reverse("rules:index")).content.decode()
    finished = background_wait(120)
    late = client.get(reverse("rules:progress", args=[run.pk])).json()
    run.refresh_from_db()
    print(json.dumps({
        "eager": app.conf.task_always_eager, "vendor": connection.vendor, "in_memory": connection.is_in_memory_db(),
        "status_code": response.status_code, "post_seconds": post_seconds, "said": said,
        "early": early, "polls": "data-progress-url" in page, "finished": finished, "late": late,
        "run_seconds": (run.finished_at - run.started_at).total_seconds() if run.finished_at else None,
        "leads": Contact.objects.filter(stage="lead").count(), "contacts": n,
    }), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
