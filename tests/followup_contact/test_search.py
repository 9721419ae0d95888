"""/search/?q=: contacts by name, email, phone or company (role-aware, paginated), messages and segments by name."""

from __future__ import annotations

import pytest

from crm.search import global_search, search_contacts

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_contact, rep, other_rep):
    return {
        "mine": make_contact(full_name="Dewi Lestari", email="dewi@maju.co.id", phone="081234567890", company="PT Maju",
                             owner=rep),
        "theirs": make_contact(full_name="Dewi Anggraini", email="anggraini@sentosa.co.id", company="CV Sentosa",
                               owner=other_rep),
        "nobody": make_contact(full_name="Agus Salim", email="agus@maju.co.id", phone="085711112222", company="PT Maju"),
    }


@pytest.mark.parametrize(("query", "expected"), [
    ("dewi", {"mine", "theirs"}),
    ("MAJU", {"mine", "nobody"}),
    ("agus@maju", {"nobody"}),
    ("0857-1111", {"nobody"}),
    ("+62812345", {"mine"}),
    ("sentosa", {"theirs"}),
    ("zzz", set()),
    ("d", set()),  # too short to search
])
def test_contacts_match_by_name_email_phone_or_company(people, admin, query, expected):
    found = set(search_contacts(admin, query).values_list("pk", flat=True))
    assert found == {people[name].pk for name in expected}


def test_a_rep_finds_only_their_own_contacts_like_on_the_contact_list(client_for, people, rep):
    html = client_for(rep).get("/search/", {"q": "dewi"}).content.decode()
    assert f"/contacts/{people['mine'].pk}/" in html and f"/contacts/{people['theirs'].pk}/" not in html
    assert set(search_contacts(rep, "maju").values_list("pk", flat=True)) == {people["mine"].pk}


def test_a_manager_and_a_marketer_find_everyone(people, manager, marketer):
    for user in (manager, marketer):
        assert search_contacts(user, "dewi").count() == 2


def test_results_are_paginated(client_for, make_contact, marketer):
    for n in range(30):
        make_contact(full_name=f"Siti Nurhaliza {n}")
    client = client_for(marketer)
    first = client.get("/search/", {"q": "siti"})
    assert len(first.context["page"].object_list) == 25 and first.context["paginator"].count == 30
    second = client.get("/search/", {"q": "siti", "page": 2})
    assert len(second.context["page"].object_list) == 5
    assert 'rel="next"' in first.content.decode() and "q=siti" in first.content.decode()


def test_messages_and_segments_are_found_by_name(client_for, marketer, wa_message):
    from contacts.segments import segment_create

    wa_message(name="Tawaran demo B2B")
    segment_create(name="Demo leads Jakarta", filters={"stage": "lead"}, by=marketer)
    results = global_search(marketer, "demo")
    assert [m.name for m in results.messages] == ["Tawaran demo B2B"]
    assert [s.name for s in results.segments] == ["Demo leads Jakarta"]
    html = client_for(marketer).get("/search/", {"q": "demo"}).content.decode()
    assert "Tawaran demo B2B" in html and "Demo leads Jakarta" in html


def test_the_top_bar_has_the_search_box_and_a_short_query_asks_for_more(client_for, rep):
    client = client_for(rep)
    assert 'action="/search/"' in client.get("/").content.decode()
    assert "at least 2 characters" in client.get("/search/", {"q": "a"}).content.decode()
    assert client.get("/search/").status_code == 200
