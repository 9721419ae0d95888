"""Figure 5: CSV import of 100,000 rows (2,000 on tiny) including scoring, in-process through
contacts.imports.run.import_file (what `import_contacts FILE` runs): parse, map, upsert in
chunks, then one bulk rescore of the touched contacts. New people, so every row creates."""

from __future__ import annotations

import csv
import random
import time

from bench import harness
from bench.budgets import IMPORT_ROWS
from bench.harness import Row

FIGURE = "5"
HEADER = ["Nama Lengkap", "Email", "No HP", "Perusahaan", "Jabatan", "Kota", "Industri", "Sumber"]


def _write_csv(path, rows: int, seed: int) -> None:
    from contacts.demo import CITIES, FIRST, JOB_TITLES, LAST

    rng = random.Random(seed)
    industries = ("ecommerce", "b2b", "healthcare", "education", "other")
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow([f"{first} {last}", f"{first}.{last}.imp{i}@impor.example.co.id".lower(),
                             f"08{rng.choice('1257')}9{i:08d}" if rng.random() < 0.7 else "",
                             f"PT {last} Jaya" if rng.random() < 0.5 else "", rng.choice(JOB_TITLES),
                             rng.choice(CITIES)[0], rng.choice(industries), "pameran"])


def run(ctx) -> list[Row]:
    try:
        from contacts.imports.run import import_file
    except ImportError:
        return [harness.not_measured(FIGURE, "CSV import", "importer missing")]
    rows = IMPORT_ROWS[ctx.size]
    path = ctx.log_dir / "bench-import.csv"
    _write_csv(path, rows, ctx.work.seed)
    started = time.perf_counter()
    job = import_file(path=path)
    elapsed = time.perf_counter() - started
    if job.status != "done":
        raise RuntimeError(f"import ended {job.status}: {job.message}")
    return [Row(FIGURE, f"CSV import of {rows:,} rows incl. scoring", elapsed, "s", "import_100k" if rows == 100_000 else None,
                note=f"{job.created:,} created, {job.updated:,} updated, {job.failed:,} failed; {rows / elapsed:,.0f} rows/s")]
