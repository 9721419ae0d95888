"""Publishing on the embedded default returns at once (issue 18, defect 6): the rescore it starts
runs the same chunk tasks, eagerly, on a thread of its own (crm.background), and the progress card
polls the run while it goes. Checked in a fresh process on a SQLite *file*, as `make demo` runs it:
the test database is an in-memory SQLite, where the work runs inline (see crm.background)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("publish_background_driver.py")


@pytest.mark.slow  # not backend_independent: it runs a database (its own SQLite file), in both CI passes
def test_publish_returns_before_the_rescore_and_the_progress_tells_the_truth(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_CACHE_URL", "CELERY_TASK_ALWAYS_EAGER",
                                                           "DATABASE_REPLICA_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}")
    done = subprocess.run([sys.executable, str(DRIVER), "2000"], env=env, capture_output=True, text=True, timeout=600,
                          cwd=DRIVER.parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["eager"] and result["vendor"] == "sqlite" and not result["in_memory"]
    assert result["status_code"] == 302
    # The request answered before the rescore had done anything, and said so.
    assert result["early"]["running"] and result["early"]["percent"] < 100, result["early"]
    assert result["polls"], "the rules page must poll the running rescore"
    assert all("sedang dihitung ulang" in text for text in result["said"]), result["said"]
    assert result["post_seconds"] < result["run_seconds"], (result["post_seconds"], result["run_seconds"])
    # Then the same tasks finished the run, and the card's numbers are the truth.
    assert result["finished"]
    late = result["late"]
    assert (late["status"], late["percent"], late["contacts_scored"], late["stage_changes"]) == ("done", 100, 2000, 2000)
    assert result["leads"] == 2000
