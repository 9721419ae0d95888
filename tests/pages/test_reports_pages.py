"""Reports over time (issue 18): stage cohorts by week or month, each industry's conversion as the
industry defines it next to its customers, and reps' time to the first contact of a new prospect."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, StageChange
from crm import reports

pytestmark = pytest.mark.django_db


def _moved(contact: Contact, to_stage: str, at, **extra) -> None:
    """History as the scorer writes it (the report reads only stage changes and contacts)."""
    StageChange.objects.create(contact=contact, from_stage=contact.stage, to_stage=to_stage, changed_at=at, reason_code=to_stage)
    Contact.objects.filter(pk=contact.pk).update(stage=to_stage, stage_changed_at=at, **extra)
    contact.refresh_from_db()


@pytest.fixture
def history(playbooks, make_contact, log, rep, other_rep):
    now = timezone.now()
    week_ago = now - timedelta(days=7)
    people = {}
    for n in range(4):
        people[n] = make_contact(full_name=f"Kontak {n}", industry="b2b")
    Contact.objects.filter(pk__in=[people[0].pk, people[1].pk]).update(created_at=week_ago)
    # 0: lead then prospect (rep, called after 2 h), customer; 1: prospect (other rep, never called); 2: lead; 3: nothing.
    _moved(people[0], "lead", week_ago + timedelta(hours=1))
    _moved(people[0], "prospect", week_ago + timedelta(hours=2), owner=rep, first_contacted_at=week_ago + timedelta(hours=4))
    _moved(people[0], "customer", now - timedelta(days=1))
    _moved(people[1], "prospect", now - timedelta(hours=30), owner=other_rep)
    _moved(people[2], "lead", now - timedelta(hours=3))
    log(people[0], "demo_requested")  # a B2B conversion
    log(people[2], "whitepaper_downloaded")  # a B2B conversion, not a customer
    log(people[3], "page_viewed")  # not a conversion
    return people


def test_cohorts_count_who_reached_each_stage_by_creation_week(history):
    today = timezone.localdate()
    rows = reports.stage_cohorts(first=today - timedelta(days=13), last=today, unit=reports.WEEK)
    assert sum(r["created"] for r in rows) == 4
    assert (sum(r["lead"] for r in rows), sum(r["prospect"] for r in rows), sum(r["customer"] for r in rows)) == (3, 2, 1)
    last_week = next(r for r in rows if r["created"] and r["week"] <= today - timedelta(days=7))
    assert (last_week["created"], last_week["prospect"], last_week["prospect_rate"]) == (2, 2, 1.0)


def test_industry_conversions_use_the_industry_definition(history):
    today = timezone.localdate()
    rows = {r.industry: r for r in reports.industry_conversions(first=today - timedelta(days=13), last=today)}
    assert (rows["b2b"].converted, rows["b2b"].customers) == (2, 1)  # the demo and the whitepaper; one customer
    assert rows["ecommerce"].converted == rows["healthcare"].converted == 0


def test_rep_performance_measures_the_wait_to_the_first_contact(history, rep, other_rep):
    today = timezone.localdate()
    reps, team = reports.rep_performance(first=today - timedelta(days=13), last=today)
    by_name = {r.name: r for r in reps}
    sari = by_name[rep.get_full_name() or rep.username]
    assert (sari.prospects, sari.contacted, sari.median_hours, sari.within_share, sari.customers) == (1, 1, 2.0, 1.0, 1)
    other = by_name[other_rep.get_full_name() or other_rep.username]
    assert (other.prospects, other.contacted, other.median_hours, other.within_share) == (1, 0, None, 0.0)
    assert (team.prospects, team.contacted, team.within_share) == (2, 1, 0.5)


def test_the_page_shows_each_chart_with_its_table_in_both_languages(client_for, marketer, history):
    client = client_for(marketer)
    html = client.get(reverse("reports")).content.decode()
    assert '<svg viewBox' in html and 'data-report="cohorts"' in html
    assert re.search(r'<tr data-industry="b2b">.*?data-cell="converted"><strong>2</strong>', html, flags=re.S)
    assert "Demo requested, Consultation requested" in html
    assert re.search(r'<tr data-rep="team">.*?data-cell="within">50%', html, flags=re.S)
    assert "<title>" in html and "Prospect: " in html  # values on hover, in words
    monthly = client.get(reverse("reports"), {"unit": "month"}).content.decode()
    assert "Contacts by month created" in monthly
    html_id = client.get(reverse("reports"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Meminta demo" in html_id and "Prospek: " in html_id


def test_bad_filters_name_the_field(client_for, marketer):
    response = client_for(marketer).get(reverse("reports"), {"date_from": "2026-12-01", "date_to": "2026-11-01"})
    assert response.status_code == 400
    assert re.search(r'data-field="date_from".*?The start must be on or before the end', response.content.decode(), flags=re.S)


def test_reports_are_for_marketers_admins_and_managers(client, client_for, rep, manager, admin):
    assert client.get(reverse("reports")).status_code == 302
    assert client_for(rep).get(reverse("reports")).status_code == 403
    assert client_for(manager).get(reverse("reports")).status_code == 200
    assert client_for(admin).get(reverse("reports")).status_code == 200
