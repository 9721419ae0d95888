"""The home dashboard: who may see it, what a rep's covers, its filters, the flagged
follow-ups, and a fixed number of queries whatever the data size."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]


@pytest.fixture
def funnel_data(journey, rep, other_rep):
    now = timezone.now()
    made = []
    for i in range(4):
        made.append(journey(industry="ecommerce", source="instagram", owner=rep, created=now - timedelta(days=2),
                            steps=[("lead", now - timedelta(days=2) + timedelta(hours=1)),
                                   ("customer", now - timedelta(days=2) + timedelta(hours=6 + i))]))
    for _ in range(3):
        made.append(journey(industry="b2b", source="linkedin", owner=other_rep, created=now - timedelta(days=150),
                            steps=[("lead", now - timedelta(days=120)), ("customer", now - timedelta(days=60))]))
    made.append(journey(industry="b2b", source="linkedin", owner=other_rep, full_name="Waiting Wulan",
                        steps=[("lead", now - timedelta(days=5)), ("prospect", now - timedelta(days=2))]))
    made.append(journey(industry="education", full_name="Just a contact"))
    return made


@pytest.mark.parametrize("who", ["admin", "marketer", "manager", "rep"])
def test_every_role_gets_the_dashboard(who, request, client_for, funnel_data):
    response = client_for(request.getfixturevalue(who)).get("/")
    assert response.status_code == 200
    assert b"Funnel" in response.content and b"<svg" in response.content


def test_anonymous_are_sent_to_login_and_roleless_users_get_403(client, make_user):
    assert client.get("/")["Location"].startswith("/accounts/login/")
    client.force_login(make_user("nobody"))
    assert client.get("/").status_code == 403


def test_marketer_dashboard_shows_funnel_speeds_and_flags(client_for, marketer, funnel_data):
    response = client_for(marketer).get("/")
    ctx = response.context
    assert ctx["funnel"]["total"] == 9
    html = response.content.decode()
    # E-commerce converts in hours, B2B in months.
    rows = {r.key: r for r in ctx["by_industry"]}
    assert rows["ecommerce"].median["customer"] == timedelta(hours=7)
    assert rows["b2b"].median["customer"] == timedelta(days=90)
    assert "7 hours" in html and "3 months" in html
    # The prospect never contacted for 2 days is flagged.
    assert "Waiting Wulan" in html and "Never contacted" in html
    assert [i.contact.full_name for i in ctx["queue"]["items"]] == ["Waiting Wulan"]


def test_rep_dashboard_covers_only_their_contacts(client_for, rep, funnel_data):
    response = client_for(rep).get("/")
    assert response.context["funnel"]["total"] == 4
    assert "owner" not in response.context["form"].fields
    assert b"Waiting Wulan" not in response.content  # another rep's prospect
    assert b"Your contacts" in response.content


def test_rep_cannot_widen_the_scope_with_the_owner_filter(client_for, rep, other_rep, funnel_data):
    response = client_for(rep).get("/", {"owner": other_rep.pk})
    assert response.context["funnel"]["total"] == 4


def test_filters_narrow_every_panel(client_for, marketer, other_rep, funnel_data):
    client = client_for(marketer)
    b2b = client.get("/", {"industry": "b2b"}).context
    assert b2b["funnel"]["total"] == 4
    assert [r.key for r in b2b["by_industry"]] == ["b2b"]
    assert client.get("/", {"source": "instagram"}).context["funnel"]["total"] == 4
    assert client.get("/", {"owner": other_rep.pk}).context["funnel"]["total"] == 4
    assert client.get("/", {"owner": "none"}).context["funnel"]["total"] == 1
    today = timezone.localdate()
    recent = client.get("/", {"date_from": (today - timedelta(days=10)).isoformat(), "date_to": today.isoformat()})
    assert recent.context["funnel"]["total"] == 6
    assert b"added in the period" in recent.content


def test_an_inverted_date_range_is_an_inline_error(client_for, marketer, funnel_data):
    today = timezone.localdate()
    response = client_for(marketer).get("/", {"date_from": (today - timedelta(days=3)).isoformat(),
                                              "date_to": (today - timedelta(days=10)).isoformat(), "industry": "b2b"})
    assert response.status_code == 200
    assert b"The end date is before the start date." in response.content
    assert response.context["funnel"]["total"] == 1  # the valid filters (from, industry) still apply


def test_empty_dashboard_tells_what_to_do(client_for, marketer, admin, rep, reference_data):
    assert b"Your funnel is empty" in client_for(marketer).get("/").content
    assert b"Set up scoring rules" in client_for(admin).get("/").content
    assert b"No contacts assigned to you yet" in client_for(rep).get("/").content


def test_dashboard_query_count_is_fixed(client_for, marketer, journey):
    client = client_for(marketer)
    now = timezone.now()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/").status_code == 200
        return len(ctx.captured_queries)

    def add(n: int) -> None:
        for i in range(n):
            journey(industry=("ecommerce", "b2b", "education")[i % 3], source=f"s{i % 4}",
                    steps=[("lead", now - timedelta(days=i + 1)), ("prospect", now - timedelta(days=i / 2 + 1))])

    add(3)
    few = queries()
    add(27)
    assert queries() == few
    # 14 on SQLite; PostgreSQL adds three planner estimates (pg_class). The follow-up panel reads tasks and
    # the follow-up notes of earlier versions: a count and a list each.
    assert few <= 18


def test_indonesian_formats_stay_out_of_svg_coordinates(client, marketer, funnel_data, settings):
    settings.LANGUAGE_CODE = "id"
    client.force_login(marketer)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert '<html lang="id">' in html
    svg = html[html.index("<svg viewBox"):html.index("</svg>", html.index("<svg viewBox"))]
    coords = re.findall(r' (?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"', svg)
    assert coords and all(re.fullmatch(r"-?\d+(\.\d+)?", c) for c in coords), coords
    # Numbers shown to people do follow the locale: 12.5% is "12,5%" in Indonesian.
    assert re.search(r"\d+,\d%", html)


def test_big_installations_get_briefly_cached_panels_but_a_live_follow_up_queue(client_for, marketer, journey, monkeypatch):
    from django.core.cache import cache

    from crm import dashboard

    cache.clear()
    monkeypatch.setattr(dashboard, "CACHE_ABOVE_CONTACTS", 0)  # treat this database as big
    client = client_for(marketer)
    now = timezone.now()
    journey(steps=[("prospect", now - timedelta(days=3))])
    first = client.get("/")
    assert first.context["funnel"]["total"] == 1
    assert b"Figures refresh every 120 seconds." in first.content

    journey(full_name="Late Larasati", steps=[("prospect", now - timedelta(days=2))])
    second = client.get("/")
    assert second.context["funnel"]["total"] == 1  # served from the cache
    assert second.context["queue"]["uncontacted"] == 2  # computed fresh
    assert client.get("/", {"industry": "other"}).context["funnel"]["total"] == 2  # other filters, other entry
    cache.clear()


def test_the_beat_job_keeps_the_unfiltered_panels_warm_in_each_language(client_for, marketer, journey, monkeypatch):
    """On a big installation nobody waits for the panels of the plain dashboard: the job
    stores them in both languages, and a page view then runs only its live queries."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm import dashboard
    from crm.tasks import dashboard_warm_task

    cache.clear()
    now = timezone.now()
    journey(steps=[("prospect", now - timedelta(days=3))])
    assert dashboard_warm_task() == 0  # small installations are never cached: nothing to warm

    monkeypatch.setattr(dashboard, "CACHE_ABOVE_CONTACTS", 0)
    assert dashboard_warm_task() == 2
    client = client_for(marketer)
    journey(full_name="Late Larasati", steps=[("prospect", now - timedelta(days=2))])
    for language in ("id", "en"):
        served = client.get("/", HTTP_ACCEPT_LANGUAGE=language)
        assert served.context["funnel"]["total"] == 1, language  # what the job stored, in this language
    with CaptureQueriesContext(connection) as warm:
        client.get("/")
    with CaptureQueriesContext(connection) as cold:
        client.get("/", {"industry": "other"})  # filtered: not warmed, computed now
    # The panels' own queries ran only for the cold one (three from the stage rollup: counts, moves, the
    # stage-history sample for the medians).
    assert len(cold) - len(warm) >= 3, (len(warm), len(cold))
    dashboard_warm_task()
    assert client.get("/").context["funnel"]["total"] == 2
    cache.clear()

