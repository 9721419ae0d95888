"""Figure 5: CSV import of 100,000 rows (2,000 on tiny) including scoring: read, map, upsert in
chunks, then one bulk rescore of the touched contacts. New people, so every row creates.

Twice, each with its own file: as the upload page runs it (the job read here, then import_start
queues its runners on a real worker of 2 processes: the budgeted figure), and in-process with one
runner through contacts.imports.run.import_file (what `import_contacts FILE` runs)."""

from __future__ import annotations

import csv
import random
import time

from bench import harness
from bench.budgets import IMPORT_ROWS
from bench.harness import Row

FIGURE = "5"
HEADER = ["Nama Lengkap", "Email", "No HP", "Perusahaan", "Jabatan", "Kota", "Industri", "Sumber"]


def _write_csv(path, rows: int, seed: int, tag: str = "imp", first_number: int = 0) -> None:
    from contacts.demo import CITIES, FIRST, JOB_TITLES, LAST

    rng = random.Random(seed)
    industries = ("ecommerce", "b2b", "healthcare", "education", "other")
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow([f"{first} {last}", f"{first}.{last}.{tag}{i}@impor.example.co.id".lower(),
                             f"08{rng.choice('1257')}9{first_number + i:08d}" if rng.random() < 0.7 else "",
                             f"PT {last} Jaya" if rng.random() < 0.5 else "", rng.choice(JOB_TITLES),
                             rng.choice(CITIES)[0], rng.choice(industries), "pameran"])


def _through_workers(ctx, path) -> tuple[float, object]:
    """The upload's path: the job is read here (a worker's import_parse in production), then
    import_start queues its runners, which a worker of 2 processes runs side by side."""
    from contacts.imports.run import import_create, import_start
    from contacts.models import ImportJob
    from crm.celery import app

    with harness.celery_worker(ctx.url, concurrency=2, log_dir=ctx.log_dir, name="import") as worker:
        app.conf.task_always_eager = False
        try:
            harness.purge_bench_queue()
            started = time.perf_counter()
            job = import_create(file_name=path.name, content=path.read_bytes())
            import_start(job=job, mapping=job.mapping)  # queues the runners when its transaction commits
            ended = ImportJob.Status.DONE, ImportJob.Status.FAILED
            done = harness.wait_until(lambda: ImportJob.objects.filter(pk=job.pk, status__in=ended).exists()
                                      or worker.proc.poll() is not None, timeout=3600, interval=0.05)
            elapsed = time.perf_counter() - started
        finally:
            app.conf.task_always_eager = True
        if not done or worker.proc.poll() is not None:
            raise RuntimeError(f"the import on 2 worker processes did not finish:\n{worker.log_tail()}")
    return elapsed, ImportJob.objects.defer("content").get(pk=job.pk)


def run(ctx) -> list[Row]:
    try:
        from contacts.imports.run import import_file, import_runners
    except ImportError:
        return [harness.not_measured(FIGURE, "CSV import", "importer missing")]
    rows = IMPORT_ROWS[ctx.size]
    title = f"CSV import of {rows:,} rows incl. scoring"
    out = []
    path = ctx.log_dir / "bench-import.csv"
    _write_csv(path, rows, ctx.work.seed)
    elapsed, job = _through_workers(ctx, path)
    if job.status != "done":
        raise RuntimeError(f"import ended {job.status}: {job.message}")
    out.append(Row(FIGURE, f"{title}, 2 worker processes", elapsed, "s", "import_100k" if rows == 100_000 else None,
                   note=f"{import_runners(rows)} runners; {job.created:,} created, {job.updated:,} updated, "
                        f"{job.failed:,} failed; {rows / elapsed:,.0f} rows/s"))

    path = ctx.log_dir / "bench-import-in-process.csv"
    _write_csv(path, rows, ctx.work.seed + 1, tag="imq", first_number=rows)  # other people
    started = time.perf_counter()
    job = import_file(path=path)
    one = time.perf_counter() - started
    if job.status != "done":
        raise RuntimeError(f"import ended {job.status}: {job.message}")
    out.append(Row(FIGURE, f"{title}, in-process, one runner", one, "s", None, baseline=elapsed, ratio=one / elapsed,
                   baseline_label="2 worker processes",
                   note=f"import_contacts FILE; {job.created:,} created, {job.failed:,} failed; {rows / one:,.0f} rows/s"))
    return out
