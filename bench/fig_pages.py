"""Figure 6: pages at the workload's size, through Django's test client logged in as an
admin (who sees every contact): the dashboard, a filtered stage list at several pages, and
contact pages. p95 of server time, and the most queries any one request made."""

from __future__ import annotations

import time

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import harness
from bench.budgets import PAGE_RUNS
from bench.harness import Row

FIGURE = "6"


def _measure(client: Client, urls: list[str], runs: int) -> tuple[list[float], int]:
    for url in urls[:2]:  # warm-up: template compilation, rule-set cache
        client.get(url)
    timings, most_queries = [], 0
    for i in range(runs):
        url = urls[i % len(urls)]
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
        most_queries = max(most_queries, len(queries.captured_queries))
    return timings, most_queries


def run(ctx) -> list[Row]:
    from django.contrib.auth import get_user_model
    from django.urls import NoReverseMatch, reverse

    from bench.run import ADMIN
    from contacts.models import Contact

    try:
        reverse("home"), reverse("contacts:list"), reverse("contacts:detail", args=[1])
    except NoReverseMatch as exc:
        return [harness.not_measured(FIGURE, "pages", f"pages missing ({exc})")]
    client = Client()
    client.force_login(get_user_model().objects.get(username=ADMIN[0]))
    runs = PAGE_RUNS[ctx.size]
    lists = [f"{reverse('contacts:list')}?stage={stage}&industry={industry}&page={page}"
             for stage, industry in (("lead", "b2b"), ("prospect", "ecommerce"), ("contact", "healthcare"))
             for page in (1, 7, 40)]
    ids = list(Contact.objects.filter(pk__in=range(11, ctx.work.contacts, max(1, ctx.work.contacts // 50)))
               .order_by("pk").values_list("pk", flat=True)[:50])
    pages = [
        ("dashboard", [reverse("home")], "page_dashboard_p95"),
        ("stage list (filtered, pages 1/7/40)", lists, "page_stage_list_p95"),
        ("contact page", [reverse("contacts:detail", args=[pk]) for pk in ids], "page_contact_p95"),
    ]
    rows = []
    for title, urls, budget in pages:
        timings, queries = _measure(client, urls, runs)
        rows.append(Row(FIGURE, f"{title}, p95", harness.percentile(timings, 95), "ms", budget,
                        note=f"{runs} requests; median {harness.median(timings):.0f} ms; at most {queries} queries per request"))
        rows.append(Row(FIGURE, f"{title}, queries per request (max)", queries, "queries", "page_queries"))
    return rows
