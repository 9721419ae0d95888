"""Figure 2: one interaction through contacts.services.interaction_log until its score and
stage are stored, Celery eager (the scoring task runs in-process after commit), on a
contact with 50 interactions. The new interaction is deleted after each run (untimed), so
every run starts from the same 50."""

from __future__ import annotations

import time

from django.utils import timezone

from bench import harness
from bench.budgets import INTERACTION_RUNS
from bench.harness import Row

FIGURE = "2"
KINDS = ("page_viewed", "email_opened", "email_clicked", "form_submitted", "price_requested")


def _contact_with(n: int):
    """A b2b contact topped up (or trimmed) to exactly n interactions, then scored."""
    from contacts.models import Contact, Interaction
    from scoring.rescoring import contact_rescore

    contact = Contact.objects.filter(industry="b2b", objects_to_profiling=False).order_by("pk").first()
    have = list(Interaction.objects.filter(contact=contact).order_by("-occurred_at").values_list("pk", flat=True))
    if len(have) > n:
        Interaction.objects.filter(pk__in=have[n:]).delete()
    now = timezone.now()
    Interaction.objects.bulk_create(
        Interaction(contact=contact, kind_id=KINDS[i % 3], occurred_at=now - timezone.timedelta(days=i % 170, hours=i))
        for i in range(n - len(have))
    )
    contact_rescore(contact_id=contact.pk)
    contact.refresh_from_db()
    return contact


def commit_latency_ms(n: int = 50) -> float:
    """Median time of an empty write transaction: what each commit's WAL flush costs here."""
    from django.db import connection, transaction

    timings = []
    for _ in range(n):
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT txid_current()")  # an xid makes the commit flush the WAL
        timings.append((time.perf_counter() - started) * 1000)
    return harness.median(timings)


def run(ctx) -> list[Row]:
    from contacts.models import Contact, Interaction
    from contacts.services import interaction_log

    contact = _contact_with(50)
    timings = []
    for i in range(INTERACTION_RUNS[ctx.size]):
        started = time.perf_counter()
        logged = interaction_log(contact=contact, kind=KINDS[i % len(KINDS)], occurred_at=timezone.now(), channel="web",
                                 data={"path": "/harga"}, source="bench")
        timings.append((time.perf_counter() - started) * 1000)
        stored = Contact.objects.filter(pk=contact.pk).values_list("needs_rescore", "scored_at").get()
        if stored[0] or stored[1] is None or stored[1] < logged.interaction.created_at:
            raise RuntimeError("interaction_log returned before the score was stored (is Celery eager?)")
        Interaction.objects.filter(pk=logged.interaction.pk).delete()
    note = (f"{len(timings)} runs on contact #{contact.pk} (50 interactions, b2b rules); mean {sum(timings) / len(timings):.1f} ms;"
            f" two commits per run, and an empty commit (WAL flush) takes {commit_latency_ms():.1f} ms here")
    return [
        Row(FIGURE, "one interaction → score stored (eager), median", harness.median(timings), "ms", "interaction_median", note=note),
        Row(FIGURE, "one interaction → score stored (eager), p99", harness.percentile(timings, 99), "ms", "interaction_p99"),
    ]
