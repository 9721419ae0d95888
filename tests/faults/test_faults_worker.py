"""A worker SIGKILLed in the middle of a full rescore: the run is resumed by a new
worker (rescore_resume, as the beat job does) and every contact ends with the engine's score."""

from __future__ import annotations

import time

import pytest

from tests.faults.faultkit import sql, sql_value, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CONTACTS = 3000
CHUNK = 50


def _run_state(url: str) -> tuple[int, str, int, int, int] | None:
    rows = sql(url, "SELECT id, status, total_chunks, done_chunks, contacts_scored FROM scoring_rescorerun ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None


def test_killed_worker_mid_rescore_is_resumed(redis_server, env_for, fault_db, procs, driver, figures):
    env = env_for(redis_server, CRM_RESCORE_CHUNK=str(CHUNK))
    seeded = driver(env, "seed", "--contacts", str(CONTACTS), "--prefix", "wk")
    first = procs.worker(env, name="doomed")

    # Publishing a changed rule set queues the full rescore (rescore_all_task -> chunks).
    driver(env, "publish_variant")
    wait_for(lambda: (s := _run_state(fault_db)) is not None and s[3] >= 3,
                     timeout=180, interval=0.02, what="the rescore to get going")
    first.kill()  # SIGKILL to the worker and its pool child, mid-run
    killed_at = time.monotonic()
    run_id, status, total, done_at_kill, _scored = _run_state(fault_db)
    assert status == "running" and done_at_kill < total, "the run finished before the kill: seed more contacts"

    # A new worker; the beat job's resume (here without its grace period) re-queues
    # every unfinished chunk, including the one the dead worker held unacknowledged.
    procs.worker(env, name="rescuer")
    requeued = driver(env, "resume")["requeued"]
    wait_for(lambda: _run_state(fault_db)[1] == "done", timeout=300, interval=0.2, what="the resumed run to finish")
    recovery = time.monotonic() - killed_at
    # The dead worker's message stays unacknowledged until the visibility timeout; the
    # re-queued duplicates of finished chunks are no-ops.
    wait_for(lambda: redis_server.waiting() == 0, timeout=120, interval=0.2, what="duplicate chunk tasks to drain")

    _, status, total, done, scored = _run_state(fault_db)
    check = driver(env, "check")
    figures("worker killed", {
        "contacts": seeded["contacts"], "chunks": total, "chunks_done_at_kill": done_at_kill, "requeued": requeued,
        "chunks_done": done, "contacts_scored": scored, "lost": seeded["contacts"] - scored,
        "max_recovery_s": round(recovery, 2), "score_mismatches": check["mismatched"],
    })
    assert done == total, "each chunk is counted once, however often it ran"
    assert scored == CONTACTS
    assert check["mismatched"] == 0, check["mismatch_sample"]
    assert check["unscored"] == 0
    assert check["duplicate_stage_changes"] == {}
    assert check["duplicate_follow_ups"] == {}
    assert sql_value(fault_db, "SELECT count(*) FROM scoring_rescorechunk WHERE run_id = %s AND done_at IS NULL", (run_id,)) == 0
