"""The nightly rescore writes only what visibly changed and reads only what can have changed:
a cent of decay keeps the stored row (same breakdown, same row version), a visible change
rewrites it, and contacts before their score_stable_until are not even read."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact
from scoring.models import RuleSet
from scoring.rescoring import STABLE_AT_MOST, rescore_all_now
from scoring.rulesets import version_draft, version_publish
from tests.scoring.test_services import _assert_stored_as_the_engine_says, _demo_contacts

pytestmark = pytest.mark.django_db


def _row_version(pk: int):
    """PostgreSQL: the row's xmin (any UPDATE makes a new row version, even to equal values);
    elsewhere the stored result itself."""
    contact = Contact.objects.get(pk=pk)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT xmin::text FROM contacts_contact WHERE id = %s", [pk])
            return cursor.fetchone()[0], contact.scored_at, contact.score_breakdown
    return contact.scored_at, contact.score_breakdown


def test_a_cent_of_decay_does_not_rewrite_the_row_and_a_visible_change_does(playbooks, make_contact):
    # E-commerce decays with a half-life of 14 days; one "Added to cart" is 15 points.
    now = timezone.now()
    person = make_contact(industry="ecommerce")
    from contacts.models import Interaction

    Interaction.objects.create(contact=person, kind_id="cart_added", occurred_at=now - timedelta(minutes=1))
    rescore_all_now(now=now)
    person.refresh_from_db()
    points = person.score_breakdown["hits"][0]["points"]
    assert points == "15.00"
    before = _row_version(person.pk)

    # An hour later the points are 14.97: a few cents, the score and stage stand. Read and
    # evaluated (the forced path reads everyone), but the row is not written.
    hour = now + timedelta(hours=1)
    outcome = rescore_all_now(now=hour)
    assert outcome.scored == 1
    assert _row_version(person.pk) == before
    person.refresh_from_db()
    assert person.score_breakdown["hits"][0]["points"] == points and person.scored_at == now

    # Five days later the 15 points are 11.71: the score moved, so score, breakdown and date are written.
    later = now + timedelta(days=5)
    rescore_all_now(now=later)
    person.refresh_from_db()
    assert _row_version(person.pk) != before
    assert person.score_breakdown["hits"][0]["points"] == "11.71" and person.scored_at == later
    assert person.score_stable_until is not None and person.score_stable_until > later


def test_the_nightly_rescore_reads_only_what_can_have_changed(playbooks):
    now = timezone.now()
    rows = _demo_contacts(300, seed=11, now=now)
    assert rescore_all_now(now=now).scored == 300
    assert not Contact.objects.filter(score_stable_until__isnull=True).exists()

    # A second later almost nobody can have moved: those are not read at all. A marked contact is.
    marked = rows[5]
    Contact.objects.filter(pk=marked.pk).update(needs_rescore=True)
    soon = rescore_all_now(now=now + timedelta(seconds=1), skip_stable=True)
    assert marked.pk in soon.written and soon.scored < 30

    # Two days on, what was skipped is still what the engine says as of then (score, stage, hits).
    two_days = now + timedelta(days=2)
    later = rescore_all_now(now=two_days, skip_stable=True)
    assert 0 < later.scored < 300
    _assert_stored_as_the_engine_says(two_days)
    # The rows read but unchanged got their next date, so the next night skips them again.
    # (a date equal to now is a touch at its window's very edge, or a score on a rounding edge)
    assert not Contact.objects.filter(score_stable_until__lt=two_days).exists()
    assert rescore_all_now(now=two_days + timedelta(seconds=1), skip_stable=True).scored < 30

    # Whatever a contact's date, it is read again after a week (the safety net) ...
    assert rescore_all_now(now=two_days + STABLE_AT_MOST, skip_stable=True).scored == 300


def test_the_nightly_rescore_reads_everyone_after_the_rules_changed(playbooks):
    now = timezone.now()
    _demo_contacts(100, seed=12, now=now)
    rescore_all_now(now=now)
    assert rescore_all_now(now=now + timedelta(seconds=1), skip_stable=True).scored < 15

    draft = version_draft(ruleset=RuleSet.objects.get(industry=""))
    version_publish(version=draft, rescore=False)  # published after every contact was scored
    assert rescore_all_now(now=timezone.now(), skip_stable=True).scored == 100


def test_a_nightly_rescore_with_no_rule_set_in_force_reads_what_is_due_and_does_not_fail(make_contact):
    """No published version: nothing says when the rules changed, so only the contacts' own marks and dates count."""
    assert not RuleSet.objects.filter(active_version__isnull=False).exists()
    due = make_contact(full_name="Due")
    later = make_contact(full_name="Later")
    now = timezone.now()
    Contact.objects.filter(pk=due.pk).update(needs_rescore=False, scored_at=now, score_stable_until=now)
    Contact.objects.filter(pk=later.pk).update(needs_rescore=False, scored_at=now, score_stable_until=now + timedelta(days=3))
    outcome = rescore_all_now(now=now + timedelta(hours=1), skip_stable=True)
    assert outcome.scored == 0  # no rules in force: nobody is scored
    later.refresh_from_db()
    assert later.score_stable_until == now + timedelta(days=3)
