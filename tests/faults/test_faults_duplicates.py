"""Duplicate task delivery (a redelivered message, a retry, two workers taking copies of
one task): the same final state as one delivery, and one StageChange per move."""

from __future__ import annotations

import pytest

from tests.faults.faultkit import sql, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CONTACTS = 20
# Six interactions each walk a contact of the default playbook to prospect (owner + follow-up).
EVENTS = CONTACTS * 6


def _stale_contacts(driver, env, prefix: str) -> list[int]:
    """Contacts with interactions whose scoring never ran, marked needs_rescore as an event's
    transaction leaves them, with no wake-up queued."""
    logged = driver(env, "log", "--contacts", str(CONTACTS), "--events", str(EVENTS), "--prefix", prefix, "--no-rescore")
    driver(env, "mark", "--ids", _ids(logged["contact_ids"]))
    return logged["contact_ids"]


def _drain(redis_server) -> None:
    wait_for(lambda: redis_server.queue_depth() == 0, timeout=180, interval=0.1, what="the queue to drain")


def _assert_clean(driver, env, prefix: str) -> dict:
    check = driver(env, "check", "--prefix", prefix)
    assert check["mismatched"] == 0, check["mismatch_sample"]
    assert check["unscored"] == 0
    assert check["duplicate_stage_changes"] == {}
    assert check["duplicate_follow_ups"] == {}
    return check


def _ids(values: list[int]) -> str:
    return ",".join(map(str, values))


def _settled(driver, env, ids: list[int]) -> dict:
    """The contacts' state once no contact is marked any more (the drain may still be finishing)."""
    wait_for(lambda: driver(env, "check", "--prefix", "")["stale"] == 0, timeout=60, interval=0.2,
             what="every marked contact to be scored")
    return driver(env, "snapshot", "--ids", _ids(ids))["state"]


def test_score_pending_task_twice_sequentially(redis_server, env_for, procs, driver, figures):
    """The scoring task production runs for events, delivered again after it did its work (contacts
    marked again, as a replayed event marks them): the same state, no second move or follow-up."""
    env = env_for(redis_server)
    ids = _stale_contacts(driver, env, "sq")
    procs.worker(env, name="w1")
    driver(env, "send", "score_pending_task")
    _drain(redis_server)
    once = _settled(driver, env, ids)
    driver(env, "mark", "--ids", _ids(ids))
    driver(env, "send", "score_pending_task")
    _drain(redis_server)
    twice = _settled(driver, env, ids)
    check = _assert_clean(driver, env, "sq")
    figures("duplicate score_pending sequential", {"contacts": len(ids), "deliveries": 2,
                                                    "stage_changes": check["stage_changes"], "states_equal": once == twice})
    assert once == twice
    assert all(s["stage"] == "prospect" and len(s["stage_changes"]) == 1 and s["follow_ups"] == 1 for s in once.values())


def test_scoring_runs_at_once(redis_server, env_for, procs, driver, figures):
    """Copies of the wake-up on two workers, and the every-minute sweep racing the drain in four
    threads (the sweep does not take the drain key, so these bulk passes really overlap): every
    contact scored once, one stage change and one follow-up each."""
    env = env_for(redis_server)
    ids = _stale_contacts(driver, env, "cc")
    procs.worker(env, name="w1")
    procs.worker(env, name="w2")
    driver(env, "send", "score_pending_task", "--times", "4")
    _drain(redis_server)
    _settled(driver, env, ids)
    workers = _assert_clean(driver, env, "cc")

    more = _stale_contacts(driver, env, "ct")
    raced = driver(env, "race", "rescore_stale_task", "--threads", "4")
    assert raced["errors"] == []
    pending = driver(env, "race", "score_pending_task", "--threads", "2")
    assert pending["errors"] == []
    threads = _assert_clean(driver, env, "ct")
    state = driver(env, "snapshot", "--ids", _ids(ids + more))["state"]
    figures("duplicate scoring runs concurrent", {
        "contacts": len(ids) + len(more), "deliveries": 4 + raced["runs"] + pending["runs"],
        "stage_changes": workers["stage_changes"] + threads["stage_changes"],
    })
    assert all(len(s["stage_changes"]) == 1 and s["follow_ups"] == 1 and s["owner"] for s in state.values())


def _chunks(driver, env, chunk: int) -> tuple[int, list[int]]:
    started = driver(env, "rescore_start", "--chunk", str(chunk))
    return started["run"], started["chunks"]


def _run(url: str, run_id: int) -> dict:
    (status, total, done, scored), = sql(
        url, "SELECT status, total_chunks, done_chunks, contacts_scored FROM scoring_rescorerun WHERE id = %s", (run_id,))
    return {"status": status, "total": total, "done": done, "scored": scored}


def test_rescore_chunk_task_twice_sequentially(redis_server, env_for, fault_db, procs, driver, figures):
    env = env_for(redis_server)
    ids = _stale_contacts(driver, env, "rs")
    procs.worker(env, name="w1")
    run_id, chunks = _chunks(driver, env, 7)
    _drain(redis_server)
    once = driver(env, "snapshot", "--ids", _ids(ids))["state"]
    first = _run(fault_db, run_id)
    driver(env, "send", "rescore_chunk_task", "--ids", _ids(chunks))
    _drain(redis_server)
    twice = driver(env, "snapshot", "--ids", _ids(ids))["state"]
    run = _run(fault_db, run_id)
    check = _assert_clean(driver, env, "rs")
    figures("duplicate rescore_chunk sequential", {"chunks": len(chunks), "deliveries": 2 * len(chunks),
                                                    "contacts_scored": run["scored"], "stage_changes": check["stage_changes"]})
    assert once == twice
    assert first == run == {"status": "done", "total": len(chunks), "done": len(chunks), "scored": CONTACTS}
    assert all(s["stage"] == "prospect" and len(s["stage_changes"]) == 1 for s in once.values())


def test_rescore_chunk_task_twice_at_once(redis_server, env_for, fault_db, procs, driver, figures):
    env = env_for(redis_server)
    ids = _stale_contacts(driver, env, "rc")
    # No worker yet: the run's chunks wait in the queue, and a second copy of each is added.
    run_id, chunks = _chunks(driver, env, 5)
    driver(env, "send", "rescore_chunk_task", "--ids", _ids(chunks))
    # Two threads run every chunk at the same moment while two workers take the queued copies.
    procs.worker(env, name="w1")
    procs.worker(env, name="w2")
    raced = driver(env, "race", "rescore_chunk_task", "--ids", _ids(chunks), "--threads", "2")
    _drain(redis_server)
    assert raced["errors"] == []
    run = _run(fault_db, run_id)
    check = _assert_clean(driver, env, "rc")
    state = driver(env, "snapshot", "--ids", _ids(ids))["state"]
    figures("duplicate rescore_chunk concurrent", {"chunks": len(chunks), "deliveries": 2 * len(chunks) + raced["runs"],
                                                    "contacts_scored": run["scored"], "stage_changes": check["stage_changes"]})
    assert run == {"status": "done", "total": len(chunks), "done": len(chunks), "scored": CONTACTS}
    assert all(s["stage"] == "prospect" and len(s["stage_changes"]) == 1 and s["follow_ups"] == 1 for s in state.values())
