"""The stage list: pages read by keyset agree with OFFSET pagination whatever order they are
visited in (first, next, a jump to the last page, back), and the tab counts come from the rollup
when the only filters are its dimensions."""

from __future__ import annotations

import random
import re

import pytest
from django.core.cache import cache

from contacts import views as contact_views
from contacts.models import Contact
from crm import roles

LIST = "/contacts/"
PAGE_SIZE = 5


def _ids(response) -> list[int]:
    assert response.status_code == 200
    return [int(pk) for pk in re.findall(r'name="ids" value="(\d+)"', response.content.decode())]


@pytest.fixture
def leads(db, reference_data, make_user):
    """37 b2b leads with many equal scores (ties sort by id), and others around them."""
    rng = random.Random(7)
    owner = make_user("pemilik", roles.SALES)
    for i in range(60):
        Contact.objects.create(full_name=f"Orang {i}", email=f"orang{i}@example.co.id",
                               industry="b2b" if i < 45 else "education", stage="lead" if i % 7 else "prospect",
                               score=rng.choice((0, 5, 5, 10, 20, 20, 20, 35)), owner=owner if i % 3 == 0 else None)
    cache.clear()
    return owner


def _offset_pages(**filters) -> list[list[int]]:
    ids = list(Contact.objects.filter(**filters).order_by("-score", "-id").values_list("pk", flat=True))
    return [ids[i:i + PAGE_SIZE] for i in range(0, len(ids), PAGE_SIZE)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_keyset_pages_agree_with_offset_pages_in_any_visiting_order(seed, leads, client_for, admin, monkeypatch):
    monkeypatch.setattr(contact_views, "PAGE_SIZE", PAGE_SIZE)
    client = client_for(admin)
    expected = _offset_pages(stage="lead", industry="b2b")
    assert len(expected) >= 7
    visits = [*range(1, len(expected) + 1), "last", *random.Random(seed).choices(range(1, len(expected) + 1), k=20)]
    random.Random(seed).shuffle(visits)
    for number in visits:
        page = len(expected) if number == "last" else number
        got = _ids(client.get(LIST, {"stage": "lead", "industry": "b2b", "page": number}))
        assert got == expected[page - 1], f"page {number}"


def test_keyset_pages_of_a_filter_the_rollup_does_not_count(leads, client_for, admin, monkeypatch):
    monkeypatch.setattr(contact_views, "PAGE_SIZE", PAGE_SIZE)
    client = client_for(admin)
    expected = _offset_pages(stage="lead", score__gte=5)
    for number in (1, 3, 2, len(expected), 1):
        assert _ids(client.get(LIST, {"stage": "lead", "score_min": "5", "page": number})) == expected[number - 1]


def _tabs(response) -> dict[str, str]:
    html = response.content.decode()
    found = re.findall(r'<a class="tab" href="\?([^"]*)"[^>]*>.*?<span class="count">([^<]+)</span>', html, re.S)
    return {dict(p.split("=") for p in query.replace("&amp;", "&").split("&") if "=" in p).get("stage", ""): n
            for query, n in found}


def test_tab_counts_come_from_the_rollup_exact_past_the_cap(leads, client_for, admin, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(contact_views, "LIST_COUNT_CAP", 3)  # the rollup's counts are exact past it
    client = client_for(admin)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, {"stage": "lead", "industry": "b2b", "owner": "none"})
    expected = {stage: str(Contact.objects.filter(industry="b2b", owner=None, **({"stage": stage} if stage else {})).count())
                for stage in ("", "contact", "lead", "prospect", "customer")}
    assert _tabs(response) == expected
    assert f"{expected['lead']} contacts match" in response.content.decode()
    # The rollup answered; no count over contacts ran.
    assert any("contacts_stagecount" in q["sql"] for q in queries.captured_queries)
    # (the capped count reads cap + 1 = 4 rows of contacts)
    assert not any("LIMIT 4" in q["sql"] for q in queries.captured_queries)


def test_a_reps_list_counts_their_own_contacts_without_the_rollup(leads, client_for):
    client = client_for(leads)  # the owner: a sales rep sees only their contacts
    n = Contact.objects.filter(stage="lead", owner=leads).count()
    assert f"{n} contacts match" in client.get(LIST, {"stage": "lead"}).content.decode()
