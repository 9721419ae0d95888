"""Several runners on one import job (contacts.imports.run): each chunk is claimed in its own
transaction (ImportChunk), runners start at their share of the file and go all the way round,
and exactly one finishes (the rescore and the summary). In sequence here on both databases, and
two at once on PostgreSQL, each with its own connection, as two worker processes run them."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections

from contacts.imports.run import import_create, import_run, import_runners, import_start
from contacts.models import Contact, ImportChunk, ImportJob
from tests.conftest import skip_or_fail

from .conftest import csv_bytes

pytestmark = pytest.mark.django_db


def _job(rows: list[list[str]], mapping: dict | None = None) -> ImportJob:
    job = import_create(file_name="leads.csv", content=csv_bytes(rows))
    return import_start(job=job, mapping=mapping or job.mapping, run=False)


def _people(n: int) -> list[list[str]]:
    return [["Email", "Nama"]] + [[f"orang{i}@contoh.co.id", f"Orang {i}"] for i in range(n)]


def _chunks(job: ImportJob) -> list[int]:
    return sorted(ImportChunk.objects.filter(job=job).values_list("number", flat=True))


def test_two_runners_share_a_job_and_do_each_chunk_once():
    job = _job(_people(10))

    # Runner 1 of 2 starts at its share (chunk 2 of 5: rows 5-6) and stops there (a time limit).
    partial = import_run(job_id=job.pk, chunk_size=2, time_budget=0, runner=1, runners=2)
    assert (partial.status, partial.rows_done, _chunks(job)) == (ImportJob.Status.RUNNING, 2, [2])
    assert set(Contact.objects.values_list("email", flat=True)) == {"orang4@contoh.co.id", "orang5@contoh.co.id"}

    # Runner 0 does the rest, skipping chunk 2, and finishes the job.
    done = import_run(job_id=job.pk, chunk_size=2, runner=0, runners=2)
    assert (done.status, done.rows_done, done.created, done.updated, done.failed) == (ImportJob.Status.DONE, 10, 10, 0, 0)
    assert _chunks(job) == [0, 1, 2, 3, 4] and Contact.objects.count() == 10
    assert "10 created" in done.message

    # Runner 1 coming back (a redelivered task) finds nothing to do.
    again = import_run(job_id=job.pk, chunk_size=2, runner=1, runners=2)
    assert (again.status, again.rows_done, again.created) == (ImportJob.Status.DONE, 10, 10)


def test_a_runner_alone_goes_all_the_way_round_and_finishes():
    """The other runner never ran (its task was lost): this one does every chunk after its
    share, then the ones before it."""
    job = _job(_people(9))

    done = import_run(job_id=job.pk, chunk_size=2, runner=1, runners=2)

    assert (done.status, done.rows_done, done.created) == (ImportJob.Status.DONE, 9, 9)
    assert _chunks(job) == [0, 1, 2, 3, 4]
    first_of_share = Contact.objects.get(email="orang4@contoh.co.id")
    assert first_of_share.pk == Contact.objects.order_by("pk").first().pk  # chunk 2 was written first


def test_the_chunk_size_is_fixed_by_the_first_run():
    job = _job(_people(6))
    import_run(job_id=job.pk, chunk_size=2, time_budget=0)
    done = import_run(job_id=job.pk, chunk_size=4)  # asked differently: chunk numbers must keep meaning the same rows
    assert (done.status, done.created, _chunks(job)) == (ImportJob.Status.DONE, 6, [0, 1, 2])


def test_only_one_runner_finishes_and_a_retried_finisher_may_finish_again():
    job = _job(_people(4))
    import_run(job_id=job.pk, chunk_size=2, runner=0, runners=2)
    # As if runner 0 had taken the finish and been stopped before it ended (the job still running).
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, finished_at=None)

    waiting = import_run(job_id=job.pk, chunk_size=2, runner=1, runners=2)
    assert waiting.status == ImportJob.Status.RUNNING  # runner 0's to finish

    retried = import_run(job_id=job.pk, chunk_size=2, runner=0, runners=2)
    assert (retried.status, retried.created, retried.rows_done) == (ImportJob.Status.DONE, 4, 4)


def test_one_person_in_both_shares_is_one_contact_whichever_share_runs_first():
    rows = [["Email", "Nama", "Kota"],
            ["dobel@contoh.co.id", "Dobel Pertama", ""],
            ["satu@contoh.co.id", "Satu", ""],
            ["dua@contoh.co.id", "Dua", ""],
            ["dobel@contoh.co.id", "", "Medan"]]
    job = _job(rows, mapping=None)

    import_run(job_id=job.pk, chunk_size=2, time_budget=0, runner=1, runners=2)  # rows 3-4 first
    done = import_run(job_id=job.pk, chunk_size=2, runner=0, runners=2)

    assert (done.created, done.updated, done.failed) == (3, 1, 0)
    dobel = Contact.objects.get(email="dobel@contoh.co.id")
    assert (dobel.full_name, dobel.city) == ("Dobel Pertama", "Medan")  # each row's values filled in
    assert Contact.objects.count() == 3


def test_the_report_keeps_rows_in_order_when_chunks_commit_out_of_order():
    rows = [["Email", "Nama"], ["bukan-email", "A"], ["b@contoh.co.id", "B"], ["juga-bukan", "C"], ["d@contoh.co.id", "D"]]
    job = _job(rows)
    import_run(job_id=job.pk, chunk_size=2, time_budget=0, runner=1, runners=2)
    done = import_run(job_id=job.pk, chunk_size=2, runner=0, runners=2)
    assert done.failed == 2 and [error["row"] for error in done.errors] == [2, 4]


def test_import_start_queues_a_runner_per_core_never_more_than_chunks(settings, django_capture_on_commit_callbacks):
    settings.CRM_IMPORT_RUNNERS = 2
    assert (import_runners(1), import_runners(1000), import_runners(1001), import_runners(50_000)) == (1, 1, 2, 2)
    settings.CRM_IMPORT_RUNNERS = 4
    assert import_runners(50_000) == 4
    settings.CRM_IMPORT_RUNNERS = 2

    job = import_create(file_name="leads.csv", content=csv_bytes(_people(1500)))
    with django_capture_on_commit_callbacks(execute=True):
        import_start(job=job, mapping=job.mapping)  # eager here: both runners run in turn, in-process

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created, _chunks(job)) == (ImportJob.Status.DONE, 1500, 1500, [0, 1])
    assert job.options["finisher"] in (0, 1)


@pytest.mark.postgres  # the embedded pass deselects it rather than skip it
@pytest.mark.django_db(transaction=True)
def test_two_runners_at_once_write_every_row_once_and_one_finishes():
    if connection.vendor != "postgresql":
        skip_or_fail("two runners at once need PostgreSQL (the claims wait on each other's row locks)")
    rows = [["Email", "No HP", "Nama"]]
    rows += [[f"orang{i}@contoh.co.id", f"0812-4000-{i:04d}", f"Orang {i}"] for i in range(60)]
    # The same people again in the other half (by email, by phone), so the runners collide on them.
    rows += [[f"orang{i}@contoh.co.id", "", f"Orang {i} lagi"] for i in range(0, 60, 7)]
    rows += [["", f"0812-4000-{i:04d}", ""] for i in range(3, 60, 11)]
    job = _job(rows)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def runner(index: int) -> None:
        try:
            barrier.wait()
            for _attempt in range(5):
                try:
                    import_run(job_id=job.pk, chunk_size=5, runner=index, runners=2)
                    return
                except OperationalError:  # a deadlock between the two inserts: the task would retry, so do we
                    continue
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    job.refresh_from_db()
    total = len(rows) - 1
    assert (job.status, job.rows_done) == (ImportJob.Status.DONE, total)
    assert job.created + job.updated + job.skipped + job.failed == total
    assert (job.created, job.failed) == (60, 0)
    assert _chunks(job) == list(range(-(-total // 5)))
    assert Contact.objects.count() == 60
    # Across the two shares the later writer wins (in file order only within a share); a blank never overwrote.
    for contact in Contact.objects.all():
        i = int(contact.email.removeprefix("orang").split("@")[0])
        assert contact.full_name in (f"Orang {i}", f"Orang {i} lagi") and contact.phone == f"+628124000{i:04d}"


@pytest.mark.worker
def test_a_real_worker_runs_both_runners_of_an_uploaded_import(celery_worker_process, settings):
    """Through Redis and a real worker process, as the upload page queues them: the runners'
    task messages (job, runner, runners) arrive, both run, and the job ends done once."""
    from tests.conftest import wait_for

    settings.CRM_IMPORT_RUNNERS = 2
    job = import_create(file_name="leads.csv", content=csv_bytes(_people(2300)))
    import_start(job=job, mapping=job.mapping)  # autocommit: the runners are queued as it commits

    wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DONE).exists(), timeout=60)
    job.refresh_from_db()
    assert (job.rows_done, job.created, job.failed, _chunks(job)) == (2300, 2300, 0, [0, 1, 2])
    assert Contact.objects.count() == 2300 and "2300 created" in job.message
