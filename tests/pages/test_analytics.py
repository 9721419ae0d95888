"""scoring.analytics: the funnel, the weekly trend, time to each stage per industry and
source, and the follow-up queue, on contacts with a known stage history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from contacts.models import Note, Stage
from scoring import analytics

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


def test_funnel_counts_reached_and_conversion_rates(journey, now):
    for _ in range(5):
        journey()  # contact
    for _ in range(3):
        journey(steps=[("lead", now)])
    journey(steps=[("lead", now), ("prospect", now)])
    journey(steps=[("lead", now), ("prospect", now), ("customer", now)])

    result = analytics.funnel()

    by_stage = {s["stage"]: s for s in result["stages"]}
    assert [s["stage"] for s in result["stages"]] == list(Stage.values)
    assert result["total"] == 10
    assert {k: v["count"] for k, v in by_stage.items()} == {"contact": 5, "lead": 3, "prospect": 1, "customer": 1}
    assert {k: v["reached"] for k, v in by_stage.items()} == {"contact": 10, "lead": 5, "prospect": 2, "customer": 1}
    assert by_stage["contact"]["conversion_rate"] == pytest.approx(0.5)
    assert by_stage["lead"]["conversion_rate"] == pytest.approx(0.4)
    assert by_stage["prospect"]["conversion_rate"] == pytest.approx(0.5)
    assert by_stage["customer"]["conversion_rate"] is None
    assert result["overall_conversion_rate"] == pytest.approx(0.1)
    assert result["filters"] == {"date_from": None, "date_to": None, "industry": None, "source": None, "owner": None}


def test_funnel_of_nobody_has_no_rates(db):
    result = analytics.funnel()
    assert result["total"] == 0
    assert all(s["conversion_rate"] is None for s in result["stages"])
    assert result["overall_conversion_rate"] is None


def test_funnel_filters_by_industry_source_owner_and_creation_date(journey, rep, now):
    old = now - timedelta(days=40)
    journey(industry="ecommerce", source="instagram", owner=rep, steps=[("lead", now)])
    journey(industry="ecommerce", source="Instagram")
    journey(industry="b2b", source="linkedin", owner=rep, created=old)
    journey(industry="b2b", source="google", created=old, steps=[("lead", now)])

    assert analytics.funnel(industry="ecommerce")["total"] == 2
    assert analytics.funnel(source="instagram")["total"] == 2  # case-insensitive, like the list filter
    assert analytics.funnel(owner=rep)["total"] == 2
    assert analytics.funnel(owner=rep.pk)["total"] == 2
    assert analytics.funnel(owner="none")["total"] == 2
    recent = analytics.funnel(date_from=timezone.localdate(now) - timedelta(days=7))
    assert recent["total"] == 2
    assert analytics.funnel(date_to=timezone.localdate(old))["total"] == 2  # date_to includes the whole day
    filtered = analytics.funnel(industry="b2b", owner=rep, date_from=date(2000, 1, 1))
    assert filtered["filters"] == {"date_from": "2000-01-01", "date_to": None, "industry": "b2b", "source": None, "owner": rep.pk}


def test_weekly_trend_counts_promotions_per_week(journey, now):
    this_week = now
    three_weeks_ago = now - timedelta(weeks=3)
    journey(steps=[("lead", this_week)])
    journey(steps=[("lead", this_week), ("prospect", this_week)])
    journey(steps=[("lead", three_weeks_ago)])
    # A demotion is not a new lead.
    demoted = journey(steps=[("lead", three_weeks_ago), ("prospect", three_weeks_ago), ("contact", this_week)])
    assert demoted.stage == "contact"

    weeks = analytics.weekly_trend(weeks=6, now=now)

    assert len(weeks) == 6
    assert all(w["week"].weekday() == 0 for w in weeks)
    assert weeks[-1]["week"] <= timezone.localdate(now) < weeks[-1]["week"] + timedelta(days=7)
    assert (weeks[-1]["lead"], weeks[-1]["prospect"]) == (2, 1)
    assert (weeks[-4]["lead"], weeks[-4]["prospect"]) == (2, 1)
    assert sum(w["lead"] for w in weeks) == 4


def test_weekly_trend_respects_a_date_range(journey, now):
    journey(steps=[("lead", now - timedelta(days=30))])
    journey(steps=[("lead", now)])
    start = timezone.localdate(now) - timedelta(days=35)
    end = timezone.localdate(now) - timedelta(days=20)

    weeks = analytics.weekly_trend(date_from=start, date_to=end)

    assert sum(w["lead"] for w in weeks) == 1
    assert weeks[0]["week"] <= start and weeks[-1]["week"] <= end


def test_time_to_stage_shows_ecommerce_in_hours_and_b2b_in_months(journey, now):
    for hours in (2, 5, 9):  # e-commerce: from first touch to purchase in hours
        created = now - timedelta(days=3)
        journey(industry="ecommerce", source="instagram", created=created,
                steps=[("lead", created + timedelta(hours=1)), ("prospect", created + timedelta(hours=hours - 0.5)),
                       ("customer", created + timedelta(hours=hours))])
    journey(industry="ecommerce", source="instagram")  # never converted
    for days in (60, 90, 120):  # B2B: months
        created = now - timedelta(days=200)
        journey(industry="b2b", source="linkedin", created=created,
                steps=[("lead", created + timedelta(days=10)), ("prospect", created + timedelta(days=days - 20)),
                       ("customer", created + timedelta(days=days))])

    rows = {r.key: r for r in analytics.time_to_stage(by="industry")}

    eco, b2b = rows["ecommerce"], rows["b2b"]
    assert (eco.total, eco.customers, eco.conversion_rate) == (4, 3, pytest.approx(0.75))
    assert eco.median["customer"] == timedelta(hours=5)
    assert eco.median["lead"] == timedelta(hours=1)
    assert eco.reached["customer"] == 3
    assert b2b.median["customer"] == timedelta(days=90)
    assert b2b.conversion_rate == pytest.approx(1.0)
    assert str(eco.label) == "E-commerce"

    by_source = {r.key: r for r in analytics.time_to_stage(by="source")}
    assert by_source["linkedin"].median["customer"] == timedelta(days=90)
    assert by_source["instagram"].median["customer"] == timedelta(hours=5)


def test_time_to_stage_lists_the_largest_sources_and_rejects_other_groupings(journey):
    for i in range(4):
        for _ in range(i + 1):
            journey(source=f"src{i}")
    assert [r.key for r in analytics.time_to_stage(by="source", limit=2)] == ["src3", "src2"]
    assert analytics.time_to_stage(by="source", limit=2)[0].median == {"lead": None, "prospect": None, "customer": None}
    with pytest.raises(ValueError):
        analytics.time_to_stage(by="city")


def test_follow_up_queue_flags_uncontacted_prospects_and_overdue_follow_ups(journey, rep, other_rep, now, settings):
    settings.CRM_FOLLOW_UP_HOURS = 24
    waiting = journey(owner=rep, steps=[("lead", now - timedelta(days=3)), ("prospect", now - timedelta(hours=30))])
    fresh = journey(owner=rep, steps=[("lead", now - timedelta(days=3)), ("prospect", now - timedelta(hours=2))])
    called = journey(owner=other_rep, steps=[("prospect", now - timedelta(days=2))], first_contacted_at=now - timedelta(days=1))
    Note.objects.create(contact=called, author=other_rep, kind=Note.Kind.FOLLOW_UP, body="call back", due_at=now - timedelta(hours=1))
    Note.objects.create(contact=fresh, author=rep, kind=Note.Kind.FOLLOW_UP, body="later", due_at=now + timedelta(hours=5))
    done = Note.objects.create(contact=fresh, author=rep, kind=Note.Kind.FOLLOW_UP, body="done", due_at=now - timedelta(hours=5))
    Note.objects.filter(pk=done.pk).update(done_at=now)

    queue = analytics.follow_up_queue(now=now)

    assert (queue["uncontacted"], queue["overdue"]) == (1, 1)
    items = {item.contact.pk: item for item in queue["items"]}
    assert set(items) == {waiting.pk, called.pk}
    assert items[waiting.pk].never_contacted and items[waiting.pk].overdue_note is None
    assert not items[called.pk].never_contacted and items[called.pk].overdue_note.body == "call back"
    assert [i.contact.pk for i in queue["items"]] == [waiting.pk, called.pk]  # longest wait first

    mine = analytics.follow_up_queue(owner=rep, now=now)
    assert [i.contact.pk for i in mine["items"]] == [waiting.pk]


def test_dashboard_aggregates_take_a_fixed_number_of_queries(journey, now, django_assert_max_num_queries):
    for i in range(30):
        journey(industry=("ecommerce", "b2b")[i % 2], source=f"s{i % 3}",
                steps=[("lead", now - timedelta(days=i)), ("prospect", now - timedelta(days=i / 2))])
    with django_assert_max_num_queries(1):
        analytics.funnel()
    with django_assert_max_num_queries(1):
        analytics.weekly_trend()
    with django_assert_max_num_queries(3):  # totals, medians (+ a table-size estimate on PostgreSQL)
        analytics.time_to_stage(by="industry")
    with django_assert_max_num_queries(6):  # + the overdue follow-up tasks (count, rows)
        analytics.follow_up_queue()
    with django_assert_max_num_queries(6):  # one contact rollup serves the funnel and both timing tables
        panels = analytics.dashboard()
    assert panels["funnel"] == {**analytics.funnel()}
    assert [g.key for g in panels["by_industry"]] == [g.key for g in analytics.time_to_stage(by="industry")]


def test_medians_read_a_systematic_sample_of_a_big_history(journey, now, monkeypatch):
    created = now - timedelta(days=10)
    for hours in range(1, 13):  # twelve e-commerce purchases, 1 to 12 hours after the first touch
        journey(industry="ecommerce", created=created, steps=[("customer", created + timedelta(hours=hours))])
    monkeypatch.setattr(analytics, "MEDIAN_SAMPLE", 4)
    monkeypatch.setattr(analytics, "_estimated_rows", lambda model: 12)  # "big": every 3rd stage change is read

    (eco,) = analytics.time_to_stage(by="industry")

    assert eco.reached["customer"] == 12  # 4 sampled rows, scaled back up
    assert timedelta(hours=2) <= eco.median["customer"] <= timedelta(hours=11)
