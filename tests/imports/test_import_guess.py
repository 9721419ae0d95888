"""Mapping by content (contacts.imports.profiling) and the synonym tables (contacts.imports.synonyms):
pure logic, no database."""

from __future__ import annotations

import pytest

from contacts.imports import synonyms as acts
from contacts.imports.profiling import profile


def test_activity_names_are_never_dates_and_dates_are_dates():
    names = profile(["Email Opened", "SMS Sent", "Email Opened", "Page Visited on Website", "Email Opened", "Unreachable"])
    assert (names.kind, names.distinct, names.date_share) == ("category", 4, 0.0)
    assert names.examples(1) == ["Email Opened"]
    assert profile(["2025-03-01 10:00", "14/03/2025", "3 Maret 2025"], is_date=lambda v: True).kind == "date"
    assert profile(["20/02/2025", "25/02/2025", "14/01/2025"]).kind == "date"


@pytest.mark.parametrize(("values", "kind"), [
    (["Yes", "No", "No"], "flag"),
    (["0", "1", "1", "0"], "flag"),
    (["a@contoh.co.id", "b@contoh.co.id"], "email"),
    (["+62 812-3456-7890", "0813 1111 2222"], "phone"),
    (["https://kopiku.id", "www.toko.co.id"], "url"),
    (["0", "3", "12", "251"], "number"),
    (["2.5", "1,5", "4"], "number"),
    (["7927b2df-8bba-4d29-b9a2-b6e0beafe620", "2a272436-5132-4136-86fa-dcc88c88f482"], "identifier"),
    (["", "  "], "empty"),
])
def test_kinds_of_content(values, kind):
    assert profile(values).kind == kind


def test_counts_are_whole_numbers_and_personal_values_are_not_kept():
    visits = profile(["0", "3", "12", "251"])
    assert (visits.integer, visits.low, visits.high) == (True, 0, 251)
    assert profile(["1.5", "2"]).integer is False
    # A profile is stored with the job: values of an email (or name, phone) column are not kept in it.
    assert profile(["a@contoh.co.id", "b@contoh.co.id"]).top == []


@pytest.mark.parametrize(("value", "kind"), [
    ("Email Opened", "email_opened"), ("email opened", "email_opened"), ("Form Submitted on Website", "form_submitted"),
    ("Converted to Lead", "form_submitted"), ("Email Link Clicked", "email_clicked"), ("Page Visited on Website", "page_viewed"),
    ("Had a Phone Conversation", "consultation_requested"), ("Olark Chat Conversation", "whatsapp_message"),
    ("Unsubscribed", "unsubscribed"), ("Email Bounced", "email_bounced"), ("Webinar Registration Form Submitted", "form_submitted"),
    ("Mengisi formulir", "form_submitted"), ("Landing Page Submission", "form_submitted"),
    ("Demo request form", "demo_requested"), ("Ebook download form", "content_downloaded"),
    ("Contact us form", "form_submitted"), ("Minta penawaran harga", "quote_requested"),
])
def test_activity_synonyms(value, kind):
    assert acts.activity_kind(value) == kind


@pytest.mark.parametrize("value", ["SMS Sent", "Email Received", "Unreachable", "Converted", "Closed Won", "Modified", "xyz",
                                   "API", "Lead Import", "Lead Add Form", "Pricing Page Visited"])
def test_seller_actions_outcomes_and_unknown_values_propose_nothing(value):
    # An outcome ("Converted", "Closed Won") must never become an interaction the score counts.
    assert acts.activity_kind(value) is None


def test_a_proposed_kind_must_exist():
    assert acts.activity_kind("Email Opened", kinds={"page_viewed"}) is None


def test_count_and_opt_out_headers():
    assert acts.count_kind("TotalVisits") == acts.count_kind("Number of Pageviews") == "page_viewed"
    assert acts.count_kind("Marketing emails opened") == "email_opened"
    assert acts.count_kind("Unread Messages") == "whatsapp_message"
    assert acts.count_kind("Lead Number") is None
    assert acts.opt_out_target("Do Not Email") == acts.opt_out_target("Unsubscribed from all email") == "opt_out_email"
    assert acts.opt_out_target("DoNotCall") == "opt_out_phone"
    assert acts.is_origin_header("Lead Origin") and not acts.is_activity_header("Lead Origin")
    assert acts.is_activity_header("Last Notable Activity")
    assert not acts.is_activity_header("Asymmetrique Activity Index")  # a measure: "01.High", "02.Medium"
