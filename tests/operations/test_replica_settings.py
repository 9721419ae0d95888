"""DATABASE_REPLICA_URL's settings, in a fresh process with an environment of its own: unset, no
replica alias and no router (behaviour unchanged); set, a `replica` alias that mirrors the test
default in a test run (no test database is created on a read-only standby), a router that
writes and migrates only on the primary, and an unreachable replica that sends reads to the
primary with one log line. The real streaming replica is in tests/faults/test_faults_replica.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent

REPO = Path(__file__).resolve().parents[2]
# Port 1: nothing listens there, so the replica is "stopped" (connection refused at once).
PRIMARY = "postgres://postgres@127.0.0.1:1/crm_primary"
REPLICA = "postgres://postgres@127.0.0.1:1/crm_replica"

PROBE = """
import json, logging, sys
import django
django.setup()
from django.conf import settings
from django.db import router
from contacts.models import Contact
from crm import replica
logging.getLogger("crm.replica").handlers = [logging.StreamHandler(sys.stdout)]
found = {"aliases": sorted(settings.DATABASES), "routers": settings.DATABASE_ROUTERS}
if "replica" in settings.DATABASES:
    found["mirror"] = settings.DATABASES["replica"]["TEST"].get("MIRROR")
    found["migrate"] = {db: router.allow_migrate(db, "contacts") for db in ("default", "replica")}
    found["write"] = router.db_for_write(Contact)
    found["read_outside"] = router.db_for_read(Contact)
    with replica.reads_from_replica():
        found["read_inside"] = [router.db_for_read(Contact) for _ in range(3)]
print(json.dumps(found))
"""


def _probe(**extra: str) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_URL", "CRM_", "PYTEST"))}
    env.update(DJANGO_SETTINGS_MODULE="crm.settings", DJANGO_DEBUG="1", PYTHONPATH=str(REPO), **extra)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1])


def test_without_a_replica_url_there_is_no_replica_and_no_router():
    found, _log = _probe(DATABASE_URL=PRIMARY)
    assert found == {"aliases": ["default"], "routers": []}


def test_a_replica_url_adds_a_mirrored_alias_and_a_router_that_keeps_writes_on_the_primary():
    found, log = _probe(DATABASE_URL=PRIMARY, DATABASE_REPLICA_URL=REPLICA)
    assert found["aliases"] == ["default", "replica"]
    assert found["routers"] == ["crm.replica.ReplicaRouter"]
    assert found["mirror"] == "default"
    assert found["migrate"] == {"default": True, "replica": False}
    assert found["write"] == "default"
    assert found["read_outside"] == "default"
    # The replica does not answer: every read in the block goes to the primary, with one log line.
    assert found["read_inside"] == ["default", "default", "default"]
    assert log.count("Read replica unavailable (OperationalError)") == 1, log
