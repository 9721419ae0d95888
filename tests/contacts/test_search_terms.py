"""What the contact search finds for each kind of term (contacts.selectors.search_q, shared by the
global search and the contact list's `search` filter), and the global search's pages: newest change
first whether the matches are few (sorted in Python) or past the count's cap (read in index order).
Runs on SQLite and on PostgreSQL (where each kind of term goes through its own index)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors import phone_search
from crm.search import search_contacts
from crm.search import views as search_views


@pytest.mark.parametrize(("term", "expected"), [
    ("0812-3456-7890", ("+6281234567890", None)),      # local form: the start of the E.164 number
    ("+62 812 3456 7890", ("+6281234567890", None)),
    ("(0812) 3456.7890", ("+6281234567890", None)),
    ("62812345678", ("+62812345678", None)),             # +62 written without its "+"
    ("0812 3456", ("+628123456", None)),                  # 8 digits or more: a number typed from its start
    ("0812 345", ("+62812345", "0812345")),
    ("0123", ("+62123", "0123")),                         # a short run with a trunk 0 may also be the last digits
    ("3210", (None, "3210")),                             # digits anywhere in the number
    ("6234", (None, "6234")),
    ("812 3456", (None, "8123456")),
    ("081", (None, None)),                                # too few digits to be a phone
    ("dewi", (None, None)),
    ("budi1985", (None, None)),
    ("+62", (None, None)),
])
def test_phone_like_terms_become_a_prefix_of_the_stored_number_or_a_fragment(term, expected):
    assert phone_search(term) == expected


@pytest.fixture
def people(make_contact):
    return {
        "dewi": make_contact(full_name="Dewi Lestari", email="Dewi.Lestari@Maju.co.id", phone="0812-3456-7890",
                             company="PT Maju Jaya"),
        "budi": make_contact(full_name="Budi Santoso", email="budi1985@gmail.com", phone="+62 857 1111 2222",
                             company="CV Sentosa Abadi"),
        "rina": make_contact(full_name="Rina Wijaya", email="rina@contoh.co.id", phone="0812-9999-0123"),
        "no_phone": make_contact(full_name="Agus Salim", email="agus.salim@gmail.com"),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("term", "expected"), [
    ("dewi lest", {"dewi"}),                          # a name fragment, any case
    ("Dewi LESTARI", {"dewi"}),
    ("lestari dewi", set()),                          # a phrase is still matched as typed: its words in order…
    ("salim s", set()),                               # …and together ("Agus Salim" has both words, not the phrase)
    ("santoso@", set()),
    ("LESTARI", {"dewi"}),
    ("santoso", {"budi"}),
    ("sentosa", {"budi"}),                            # a company word
    ("maju", {"dewi"}),                               # company and email domain
    ("dewi.lestari@maju.co.id", {"dewi"}),            # a full address (stored lowercased), any case
    ("DEWI.LESTARI@MAJU.CO.ID", {"dewi"}),
    ("dewi.lestari@", {"dewi"}),                      # the start of an address
    ("agus.salim@g", {"no_phone"}),
    ("lestari@maju", set()),                          # an address is matched from its start…
    ("@gmail.com", {"budi", "no_phone"}),             # …or, starting with "@", by its domain
    ("budi1985@gmail.com", {"budi"}),                 # its digits are not read as a phone number
    ("dewi.lest", {"dewi"}),                          # no "@": name, email or company containing it
    ("0812-3456-7890", {"dewi"}),                     # the phone in every local form
    ("+62 812 3456 7890", {"dewi"}),
    ("6281234567890", {"dewi"}),
    ("(0812) 3456 7890", {"dewi"}),
    ("0812", {"dewi", "rina"}),                       # the start of a number
    ("0857-1111", {"budi"}),
    ("7890", {"dewi"}),                               # the last digits
    ("0123", {"rina"}),
    ("1985", {"budi"}),                               # digits only: also in an email
    ("qxzvw", set()),
])
def test_each_kind_of_term_finds_its_contacts(people, admin, term, expected):
    found = set(search_contacts(admin, term).values_list("pk", flat=True))
    assert found == {people[name].pk for name in expected}


@pytest.fixture
def many_sitis(make_contact):
    """30 matches for "siti", each changed at its own time (not in creation order), and one that does not match."""
    now = timezone.now()
    contacts = [make_contact(full_name=f"Siti Nurhaliza {n}") for n in range(30)]
    for n, contact in enumerate(contacts):
        Contact.objects.filter(pk=contact.pk).update(updated_at=now - timedelta(minutes=(n * 7) % 30))
    make_contact(full_name="Budi Santoso")
    return list(Contact.objects.filter(full_name__startswith="Siti").order_by("-updated_at", "-id").values_list("pk", flat=True))


def _pages(client, term):
    first = client.get("/search/", {"q": term})
    second = client.get("/search/", {"q": term, "page": 2})
    return first.context, second.context


@pytest.mark.django_db
def test_a_few_matches_are_counted_exactly_and_paged_newest_change_first(client_for, marketer, many_sitis):
    first, second = _pages(client_for(marketer), "siti")
    assert first["paginator"].count == 30 and not first["paginator"].is_capped
    assert [c.pk for c in first["page"].object_list] == many_sitis[:25]
    assert [c.pk for c in second["page"].object_list] == many_sitis[25:]


@pytest.mark.django_db
def test_past_the_cap_the_count_says_many_and_pages_stay_newest_change_first(client_for, marketer, many_sitis,
                                                                            monkeypatch):
    monkeypatch.setattr(search_views, "COUNT_CAP", 26)
    first, second = _pages(client_for(marketer), "siti")
    assert first["paginator"].count == 27 and first["paginator"].is_capped
    assert [c.pk for c in first["page"].object_list] == many_sitis[:25]
    assert "of many: refine the search" in client_for(marketer).get("/search/", {"q": "siti"}).content.decode()
    assert [c.pk for c in second["page"].object_list] == many_sitis[25:27]  # paging stops at the cap, as before


@pytest.mark.django_db
def test_a_list_search_matching_one_contact_asks_for_a_whole_page(client_for, marketer, people):
    """LIMIT 1 let the planner walk the list order's whole index for the one row (17.7 s at 1M contacts);
    the page asks for a whole page whatever the count, and shows what matched."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client_for(marketer).get("/contacts/", {"search": "dewi lest"})
    assert [c.pk for c in response.context["page"].object_list] == [people["dewi"].pk]
    pages = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
             and '"contacts_contact"."full_name"' in q["sql"]]
    assert pages and not any(re.search(r"LIMIT 1\b", sql) for sql in pages), pages
