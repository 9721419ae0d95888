"""Figure 7: seeding the workload (generate, COPY, build indexes, analyze)."""

from __future__ import annotations

import os

from bench import harness
from bench.generator import seed
from bench.harness import Row

FIGURE = "7"


def seed_workload(ctx, seed_value: int) -> dict:
    processes = 1 if ctx.size == "tiny" else min(2, os.cpu_count() or 1)
    stats = seed(harness.dsn(ctx.url), ctx.work, processes=processes, log=ctx.log)
    ctx.log(f"  seeded in {stats['total_s']:.1f} s (load {stats['load_s']:.1f} s, indexes + analyze {stats['index_s']:.1f} s)")
    return stats


def run(ctx) -> list[Row]:
    stats = ctx.seed_stats
    if stats.get("reused"):
        return [harness.not_measured(FIGURE, "seeding", "data reused (--reuse-data)")]
    rate = stats["interactions"] / stats["total_s"]
    return [Row(FIGURE, "seeding", stats["total_s"], "s", "seed",
                note=f"{stats['contacts']:,} contacts + {stats['interactions']:,} interactions by COPY; "
                     f"load {stats['load_s']:.1f} s, index + analyze {stats['index_s']:.1f} s; {rate:,.0f} interactions/s")]
