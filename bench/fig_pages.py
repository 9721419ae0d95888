"""Figure 6: pages at the workload's size, through Django's test client logged in as an
admin (who sees every contact): the dashboard, a filtered stage list at several pages, and
contact pages. p95 of server time, and the most queries any one request made.

Issue 21: the dashboard is measured cold (its panel cache forgotten before every request)
with a random filter combination each time, and the stage list at pages 1/7/40 and the last
page; both next to today's queries in the same run (baseline: CRM_STAGE_ROLLUP off, and the
stage list's OFFSET pages with the capped count, whose last page is the cap's)."""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from urllib.parse import urlencode

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from bench import harness
from bench.budgets import PAGE_RUNS, SEARCH_ROUNDS
from bench.harness import Row

FIGURE = "6"


def _measure(client: Client, urls: list[str], runs: int, *, cold: bool = False) -> tuple[list[float], int]:
    from crm.dashboard_cache import invalidate

    for url in urls[:2]:  # warm-up: template compilation, rule-set cache
        client.get(url)
    timings, most_queries = [], 0
    for i in range(runs):
        url = urls[i % len(urls)]
        if cold:
            invalidate()  # every cached panel forgotten: the request computes its panels
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
    from contacts.rollup import rollup_compact

    started = time.perf_counter()
    folded = rollup_compact()  # what the every-minute beat job keeps doing: the earlier figures' deltas folded
    with connection.cursor() as cursor:  # and what autovacuum does after it
        cursor.execute("VACUUM ANALYZE contacts_stagecount, contacts_stagemove")
    ctx.log(f"  stage rollup folded: {folded:,} delta rows in {time.perf_counter() - started:.1f} s")
    client = Client()
    client.force_login(get_user_model().objects.get(username=ADMIN[0]))
    runs = PAGE_RUNS[ctx.size]
    lists = [f"{reverse('contacts:list')}?stage={stage}&industry={industry}&page={page}"
             for stage, industry in (("lead", "b2b"), ("prospect", "ecommerce"), ("contact", "healthcare"))
             for page in (1, 7, 40, "last")]
    ids = list(Contact.objects.filter(pk__in=range(11, ctx.work.contacts, max(1, ctx.work.contacts // 50)))
               .order_by("pk").values_list("pk", flat=True)[:50])
    dashboards = _dashboard_urls(reverse("home"), runs + 2)
    terms = search_terms()
    ctx.log(f"  search terms: {', '.join(terms)}")
    searches = [f"{reverse('search')}?{urlencode({'q': term})}" for term in terms]
    pages = [
        ("dashboard, cold, random filters", dashboards, "page_dashboard_p95", True, _today_dashboard),
        ("stage list (filtered, pages 1/7/40/last)", lists, "page_stage_list_p95", False, _today_stage_list),
        ("contact page", [reverse("contacts:detail", args=[pk]) for pk in ids], "page_contact_p95", False, None),
        (f"global search ({len(terms)} kinds of term)", searches, "page_search_p95", False, _naive_search),
    ]
    rows = []
    for title, urls, budget, cold, today in pages:
        n = max(runs, SEARCH_ROUNDS * len(urls)) if budget == "page_search_p95" else runs
        baseline = worst = None
        if today is not None:  # today's queries first, on the same URLs
            with today():
                base_timings, _ = _measure(client, urls, n, cold=cold)
            baseline = harness.percentile(base_timings, 95)
        timings, queries = _measure(client, urls, n, cold=cold)
        value = harness.percentile(timings, 95)
        if budget == "page_search_p95":  # which term is slowest, both ways: where the time goes
            worst = f"; slowest term {_slowest(urls, timings)}" + (f" (naive: {_slowest(urls, base_timings)})" if baseline else "")
        label = "naive icontains OR, exact count" if budget == "page_search_p95" else "without the rollup (GROUP BY, OFFSET pages, capped count)"
        rows.append(Row(FIGURE, f"{title}, p95", value, "ms", budget, baseline=baseline,
                        baseline_label=label if baseline else "",
                        ratio=baseline / value if baseline and value else None,
                        note=f"{n} requests; median {harness.median(timings):.0f} ms; at most {queries} queries per request"
                             + (worst or "")))
        rows.append(Row(FIGURE, f"{title}, queries per request (max)", queries, "queries", "page_queries"))
    return rows


def _slowest(urls: list[str], timings: list[float]) -> str:
    """The URL's term with the highest median, and that median."""
    from urllib.parse import parse_qs, urlsplit

    by_url: dict[str, list[float]] = {}
    for i, ms in enumerate(timings):
        by_url.setdefault(urls[i % len(urls)], []).append(ms)
    url, values = max(by_url.items(), key=lambda item: harness.median(item[1]))
    return f"{parse_qs(urlsplit(url).query)['q'][0]!r} {harness.median(values):.0f} ms"


def search_terms() -> list[str]:
    """What people type into the search box, from one real contact of the workload (so every size has
    them): a name fragment, a surname, a full email, an email prefix, the phone in both local forms,
    a company word, a term matching nothing and one matching a large share of all contacts."""
    from contacts.models import Contact

    total = Contact.objects.count()
    person = (Contact.objects.filter(pk__gte=max(1, int(total * 0.54321)), email__isnull=False, phone__isnull=False)
              .exclude(full_name="").order_by("pk").first())
    first, last = person.full_name.lower().split(" ", 1)
    national = person.phone.removeprefix("+62")
    return [
        f"{first} {last[:4]}",                                        # a name fragment
        last,                                                         # a surname: thousands at L
        person.email,                                                 # a full email
        person.email.split("@")[0][:-2],                              # an email prefix
        f"0{national[:3]}-{national[3:7]}-{national[7:]}",            # 0812-3456-7890
        f"+62 {national[:3]} {national[3:7]} {national[7:]}",         # +62 812 3456 7890
        "sentosa",                                                    # a company word
        "qxzvw",                                                      # nothing
        "gmail",                                                      # a quarter of everyone
    ]


@contextmanager
def _naive_search():
    """The naive global search: an icontains OR over name, email, company and phone (by its digits,
    so it finds the same contacts), full rows with the owner, newest change first, an exact count."""
    from django.core.paginator import Paginator
    from django.db.models import Q

    import crm.search
    from contacts.selectors import contacts_visible_to
    from crm.search import views

    def naive(user, query):
        query = (query or "").strip()
        digits = "".join(ch for ch in query if ch.isdigit()).lstrip("0")
        match = Q(full_name__icontains=query) | Q(email__icontains=query) | Q(company__icontains=query)
        if len(digits) >= 4:
            match |= Q(phone__contains=digits)
        return contacts_visible_to(user).filter(match).select_related("owner").order_by("-updated_at", "-id")

    saved = crm.search.search_contacts, views.SearchPaginator
    crm.search.search_contacts, views.SearchPaginator = naive, Paginator
    try:
        yield
    finally:
        crm.search.search_contacts, views.SearchPaginator = saved


def _dashboard_urls(home: str, n: int) -> list[str]:
    """Random filter combinations: industry, source, owner (a rep, unassigned) and a date range."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from contacts.demo import SOURCES

    rng = random.Random(21)
    reps = list(get_user_model().objects.filter(username__startswith="bench-rep-").values_list("pk", flat=True))
    today = timezone.localdate()
    urls = []
    for _ in range(n):
        query = {}
        if rng.random() < 0.6:
            query["industry"] = rng.choice(("ecommerce", "b2b", "healthcare", "education", "other"))
        if rng.random() < 0.5:
            query["source"] = rng.choice(SOURCES)[0]
        if rng.random() < 0.3 and reps:
            query["owner"] = rng.choice([*reps, "none"])
        if rng.random() < 0.5:
            start = today - timedelta(days=rng.randint(7, 170))
            query["date_from"] = start.isoformat()
            if rng.random() < 0.5:
                query["date_to"] = (start + timedelta(days=rng.randint(1, 60))).isoformat()
        urls.append(home + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""))
    return urls


@contextmanager
def _today_dashboard():
    """The dashboard before issue 21: GROUP BY over contacts and stage changes, and a median query
    per table over the stage history (`id % k = 0` on a big one)."""
    with override_settings(CRM_STAGE_ROLLUP=False):
        yield


@contextmanager
def _today_stage_list():
    """The stage list before issue 21: counts over contacts (capped) and OFFSET pages."""
    from contacts import views

    keyset = views.KeysetPaginator
    views.KeysetPaginator = lambda *args, cache_key, **kwargs: views.CappedPaginator(*args, **kwargs)
    try:
        with override_settings(CRM_STAGE_ROLLUP=False):
            yield
    finally:
        views.KeysetPaginator = keyset
