"""Scoring as the product runs it: services write scores, breakdowns and stage changes."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from contacts.models import Contact, Note, StageChange
from contacts.services import contact_set_stage, contact_unpin, contact_update
from crm.models import SalesRepProfile
from scoring import engine
from scoring.models import Rule, RuleSet, RuleSetVersion
from scoring.rescoring import breakdown_reconciles, contact_rescore, rescore_all_now
from scoring.rulesets import rule_validate, version_draft, version_preview, version_publish

pytestmark = pytest.mark.django_db


def test_interactions_promote_contact_to_lead_to_prospect_with_reasons(playbooks, make_contact, log, rep):
    person = make_contact(full_name="Dewi Lestari", email="dewi@kantor.co.id", industry="other")
    assert (person.stage, person.score) == ("contact", 0)

    log(person, "form_submitted")
    assert (person.stage, person.score) == ("contact", 12)
    log(person, "form_submitted")
    assert (person.stage, person.score) == ("lead", 24)
    log(person, "content_downloaded")
    assert (person.stage, person.score) == ("lead", 32)  # interest, however much, is not intent
    log(person, "price_requested")  # asking for a price is: the request and the forms make a prospect
    assert (person.stage, person.score) == ("prospect", 72)

    changes = list(person.stage_changes.order_by("changed_at"))
    assert [(c.from_stage, c.to_stage, c.reason_code) for c in changes] == [("contact", "lead", "lead"), ("lead", "prospect", "prospect")]
    general = RuleSet.objects.get(industry="").active_version
    assert all(c.ruleset_version == general for c in changes)
    assert changes[1].reason_params["intent_kind"] == "price_requested"
    assert "72 ≥" in changes[1].reason_text and "Price requested" in changes[1].reason_text
    assert breakdown_reconciles(person.score_breakdown, person.score)
    labels = {h["label"]: h for h in person.score_breakdown["hits"]}
    assert labels["Filled a landing-page form"]["count"] == 2
    assert len(labels["Filled a landing-page form"]["interactions"]) == 2


def test_reason_renders_in_indonesian(playbooks, make_contact, log):
    from django.utils import translation

    person = make_contact(industry="other")
    log(person, "form_submitted")
    log(person, "form_submitted")
    change = person.stage_changes.get()
    with translation.override("en"):
        assert change.reason_text == "score 24 ≥ lead threshold 20"
    with translation.override("id"):
        assert "24" in change.reason_text and "20" in change.reason_text


def test_new_prospect_gets_round_robin_owner_and_follow_up(playbooks, make_contact, log, rep, other_rep, settings):
    settings.CRM_FOLLOW_UP_HOURS = 24
    owners = []
    for _ in range(3):
        person = make_contact(industry="other")
        for kind in ("form_submitted", "form_submitted", "price_requested", "demo_requested"):
            log(person, kind)
        assert person.stage == "prospect"
        owners.append(person.owner)
        follow_up = person.tasks.get(done_at__isnull=True)  # a followup.Task for the new owner
        assert follow_up.assignee == person.owner and follow_up.type == "call"
        assert timedelta(hours=23) < follow_up.due_at - timezone.now() <= timedelta(hours=24)
        assert person.notes.filter(kind=Note.Kind.SYSTEM, body__contains="round-robin").exists()
    assert owners[0] != owners[1] and owners[2] == owners[0], "reps take turns"


def test_prospects_made_by_one_bulk_rescore_are_shared_out_in_turn(playbooks, rep, other_rep):
    from contacts.models import Interaction

    now = timezone.now()
    people = Contact.objects.bulk_create(Contact(full_name=f"P{i}", industry="other") for i in range(6))
    Interaction.objects.bulk_create(
        Interaction(contact=p, kind_id=kind, occurred_at=now - timedelta(hours=1))
        for p in people for kind in ("form_submitted", "form_submitted", "price_requested", "demo_requested")
    )
    rescore_all_now(now=now)
    owners = list(Contact.objects.order_by("pk").values_list("stage", "owner__username"))
    assert owners == [("prospect", name) for name in [rep.username, other_rep.username] * 3]
    from followup.models import Task

    assert Task.objects.filter(done_at__isnull=True).count() == 6
    assert sorted(Task.objects.values_list("assignee__username", flat=True)) == sorted([rep.username, other_rep.username] * 3)
    assert Note.objects.filter(kind=Note.Kind.SYSTEM, body__contains="round-robin").count() == 6
    # The next prospect continues the rotation where the batch left it.
    late = Contact.objects.create(full_name="Late", industry="other")
    Interaction.objects.bulk_create(Interaction(contact=late, kind_id=kind, occurred_at=now)
                                    for kind in ("form_submitted", "form_submitted", "price_requested", "demo_requested"))
    contact_rescore(contact_id=late.pk)
    assert Contact.objects.get(pk=late.pk).owner == rep


def test_round_robin_prefers_reps_tagged_for_the_industry(playbooks, make_contact, log, rep, other_rep):
    SalesRepProfile.objects.create(user=other_rep, industries=["b2b"])
    for _ in range(2):
        person = make_contact(industry="b2b", company="PT Maju", job_title="Direktur")
        for kind in ("whitepaper_downloaded", "webinar_attended", "demo_requested", "price_requested"):
            log(person, kind)
        assert person.stage == "prospect"
        assert person.owner == other_rep


def test_an_existing_owner_is_kept(playbooks, make_contact, log, rep, other_rep):
    person = make_contact(industry="other", owner=other_rep)
    for kind in ("form_submitted", "form_submitted", "price_requested", "demo_requested"):
        log(person, kind)
    assert person.stage == "prospect" and person.owner == other_rep


def test_rescoring_twice_records_one_stage_change(playbooks, make_contact, log):
    person = make_contact(industry="other")
    log(person, "form_submitted", rescore=False)
    log(person, "form_submitted", rescore=False)
    first = contact_rescore(contact_id=person.pk)
    second = contact_rescore(contact_id=person.pk)
    assert first.changed and not second.changed
    assert StageChange.objects.filter(contact=person).count() == 1


def test_a_deleted_contact_is_ignored(playbooks):
    assert contact_rescore(contact_id=123456789) is None


def test_pinned_stage_is_kept_until_unpinned(playbooks, make_contact, log, admin, django_capture_on_commit_callbacks):
    person = make_contact(industry="other")
    contact_set_stage(contact=person, stage="customer", by=admin, note="signed offline")
    log(person, "form_submitted")
    log(person, "form_submitted")
    assert person.stage == "customer" and person.stage_pinned and person.score == 24
    manual = person.stage_changes.get()
    assert manual.reason_code == "manual" and manual.user == admin and "signed offline" in manual.reason_text

    with django_capture_on_commit_callbacks(execute=True):
        contact_unpin(contact=person, by=admin)
    person.refresh_from_db()
    # Forward-only: a customer stays a customer once unpinned; rules may move it again.
    assert not person.stage_pinned and person.stage == "customer"


def test_unpinning_lets_rules_promote(playbooks, make_contact, log, admin, django_capture_on_commit_callbacks):
    person = make_contact(industry="other")
    contact_set_stage(contact=person, stage="contact", by=admin)
    log(person, "form_submitted")
    log(person, "form_submitted")
    assert person.stage == "contact"
    with django_capture_on_commit_callbacks(execute=True):
        contact_unpin(contact=person, by=admin)
    person.refresh_from_db()
    assert person.stage == "lead"


def test_objection_to_profiling_stops_automated_scoring(playbooks, make_contact, log):
    person = make_contact(industry="other", objects_to_profiling=True)
    log(person, "form_submitted")
    log(person, "form_submitted")
    assert (person.stage, person.score) == ("contact", 0)


def test_changing_a_scored_field_rescores(playbooks, make_contact, django_capture_on_commit_callbacks):
    person = make_contact(industry="other")
    assert person.score == 0
    with django_capture_on_commit_callbacks(execute=True):
        contact_update(contact=person, data={"phone": "0812-3456-7890"})
    person.refresh_from_db()
    assert person.score == 5  # "Has a phone number"


def test_conversion_makes_a_customer(playbooks, make_contact, log):
    person = make_contact(industry="ecommerce")
    log(person, "purchase", data={"order_value": 150000})
    assert person.stage == "customer"
    change = person.stage_changes.get()
    assert change.reason_code == "conversion" and change.reason_params["kind"] == "purchase"


def test_inactive_lead_is_demoted_when_its_score_no_longer_holds(playbooks, make_contact, log):
    # E-commerce: lead at 15, windows of days, demotion after 45 inactive days.
    person = make_contact(industry="ecommerce")
    long_ago = timezone.now() - timedelta(days=100)
    log(person, "form_submitted", occurred_at=long_ago, rescore=False)
    log(person, "cart_added", occurred_at=long_ago, rescore=False)
    contact_rescore(contact_id=person.pk, now=long_ago + timedelta(hours=1))
    person.refresh_from_db()
    assert person.stage == "lead"
    result = contact_rescore(contact_id=person.pk)
    person.refresh_from_db()
    assert result.changed and person.stage == "contact"
    demotion = person.stage_changes.latest("changed_at")
    assert demotion.reason_code == "demoted_inactive" and demotion.reason_params["days"] == 45
    assert not contact_rescore(contact_id=person.pk).changed, "evaluation is idempotent after a demotion"


def _demo_contacts(n: int, seed: int, now):
    from contacts.demo import DemoGenerator
    from contacts.models import Interaction

    demo = list(DemoGenerator(seed=seed, now=now).contacts(n))
    rows = Contact.objects.bulk_create([Contact(**d.fields) for d in demo])
    Interaction.objects.bulk_create(
        Interaction(contact_id=c.pk, kind_id=k, occurred_at=at, channel=ch, data=data)
        for c, d in zip(rows, demo, strict=True) for k, at, ch, data in d.interactions
    )
    return rows


def _engine_results(contacts, now, *, stage=None):
    """(contact, what engine.evaluate says as of `now`) from the ORM objects, independently of the bulk path."""
    from scoring.selectors import active_rulesets

    rulesets = active_rulesets()
    for contact in contacts:
        facts = engine.ContactFacts(
            fields={**{f: getattr(contact, f) for f in engine.ATTRIBUTE_FIELDS if f != "email_domain"}, "attributes": contact.attributes},
            touches=[engine.Touch(i.pk, i.kind_id, i.occurred_at, i.data) for i in contact.interactions.all()],
            stage=stage or contact.stage, stage_changed_at=contact.stage_changed_at,
        )
        yield contact, engine.evaluate(rulesets.for_industry(contact.industry), facts, now)


def test_bulk_rescore_agrees_with_the_engine_on_random_contacts(playbooks):
    """The bulk path (batched reads, set-based writes) must give exactly the engine's
    score, stage and breakdown for every contact."""
    now = timezone.now()
    _demo_contacts(1500, seed=7, now=now)
    outcome = rescore_all_now(now=now)
    assert outcome.scored == 1500


    stored = {c.pk: c for c in Contact.objects.prefetch_related("interactions")}
    for contact, expected in _engine_results(stored.values(), now, stage="contact"):
        assert (contact.score, contact.stage) == (expected.score, expected.stage), contact.pk
        assert [Decimal(h["points"]) for h in contact.score_breakdown["hits"]] == [h.points for h in expected.hits]
        assert breakdown_reconciles(contact.score_breakdown, contact.score)
    stages = {s: sum(1 for c in stored.values() if c.stage == s) for s in ("contact", "lead", "prospect", "customer")}
    assert stages["contact"] > stages["lead"] > stages["prospect"] > 0 and stages["customer"] > 0, stages
    assert StageChange.objects.count() == sum(1 for c in stored.values() if c.stage != "contact")


def test_stale_sweep_scores_every_marked_contact_in_bulk(playbooks):
    """rescore_stale (the worker's path for bursts of events) scores each marked contact
    exactly as the one-contact path would, and leaves nobody marked."""
    from scoring.rescoring import rescore_stale

    now = timezone.now()
    rows = _demo_contacts(300, seed=11, now=now)
    objecting = rows[0]
    Contact.objects.filter(pk=objecting.pk).update(objects_to_profiling=True)
    Contact.objects.update(needs_rescore=True)

    assert rescore_stale(limit=1000) == 300
    bulk = {c["id"]: c for c in Contact.objects.values("id", "score", "stage", "needs_rescore", "score_breakdown")}
    assert not any(c["needs_rescore"] for c in bulk.values())
    assert bulk[objecting.pk]["stage"] == "contact" and bulk[objecting.pk]["score"] == 0
    assert StageChange.objects.count() == sum(1 for c in bulk.values() if c["stage"] != "contact")

    # The one-contact path, from the same start, agrees on every score, stage and breakdown.
    StageChange.objects.all().delete()
    Contact.objects.update(stage="contact", score=0, score_breakdown={}, stage_changed_at=None)
    for pk in bulk:
        contact_rescore(contact_id=pk, now=now)
    for c in Contact.objects.values("id", "score", "stage", "score_breakdown"):
        assert (c["score"], c["stage"]) == (bulk[c["id"]]["score"], bulk[c["id"]]["stage"]), c["id"]
        assert c["score_breakdown"].get("hits") == bulk[c["id"]]["score_breakdown"].get("hits"), c["id"]


def test_pending_drain_scores_until_nothing_is_marked_and_lets_go(playbooks):
    """The event drainer takes batches of `limit` until no contact is marked, then frees
    both keys so the next event wakes a new run."""
    from django.core.cache import cache

    from scoring.rescoring import PENDING_DRAIN_KEY, PENDING_WAKE_KEY, rescore_pending

    _demo_contacts(30, seed=5, now=timezone.now())
    Contact.objects.update(needs_rescore=True)
    cache.set(PENDING_WAKE_KEY, 1)  # as the event that queued this run left it

    assert rescore_pending(limit=7) == 30
    assert not Contact.objects.filter(needs_rescore=True).exists()
    assert cache.get(PENDING_WAKE_KEY) is None and cache.get(PENDING_DRAIN_KEY) is None


def test_a_run_woken_during_a_drain_leaves_its_contacts_to_the_drainer(playbooks, monkeypatch):
    """Two runs at once would read the same contacts. A run that finds the drain taken
    returns at once; an event that lands after the drainer's last batch is still scored,
    because the drainer looks once more after letting go."""
    from django.core.cache import cache

    from scoring import rescoring
    from scoring.rescoring import PENDING_DRAIN_KEY, rescore_pending

    first, late = _demo_contacts(2, seed=6, now=timezone.now())
    Contact.objects.filter(pk=first.pk).update(needs_rescore=True)
    real_stale, nested = rescoring.rescore_stale, []

    def stale_then_a_late_event(*, limit):
        scored = real_stale(limit=limit)
        if scored and not nested:
            # Right after the drainer's last batch, an event commits; its wake-up runs on the other
            # worker process and finds the drain taken.
            Contact.objects.filter(pk=late.pk).update(needs_rescore=True)
            nested.append(rescore_pending())
        return scored

    monkeypatch.setattr(rescoring, "rescore_stale", stale_then_a_late_event)
    assert rescore_pending() == 2
    assert nested == [0]
    assert not Contact.objects.filter(needs_rescore=True).exists()

    cache.add(PENDING_DRAIN_KEY, 1)  # a drain in progress elsewhere
    try:
        Contact.objects.filter(pk=first.pk).update(needs_rescore=True)
        assert rescore_pending() == 0
        assert Contact.objects.get(pk=first.pk).needs_rescore  # left to that drainer (or, if it died, the sweeper)
    finally:
        cache.delete(PENDING_DRAIN_KEY)


def test_the_drainer_leaves_no_key_behind_that_would_swallow_wake_ups(playbooks, monkeypatch):
    """A run woken near the end of a drain returns at once; the drainer then clears the
    wake-up key, or every event for the next minute would find it set and queue nothing.
    An error mid-drain clears both keys too, and a cache that cannot answer does not stop
    the drain."""
    from django.core.cache import cache

    from scoring import rescoring
    from scoring.rescoring import PENDING_DRAIN_KEY, PENDING_WAKE_KEY, rescore_pending

    (person,) = _demo_contacts(1, seed=8, now=timezone.now())
    Contact.objects.filter(pk=person.pk).update(needs_rescore=True)
    real_stale, nested = rescoring.rescore_stale, []

    def stale_then_a_wake_up(*, limit):
        scored = real_stale(limit=limit)
        if scored and not nested:  # after the drain's last batch
            cache.add(PENDING_WAKE_KEY, 1)  # an event committed, its wake-up queued a run...
            nested.append(rescore_pending())  # ...which finds the drain taken
        return scored

    monkeypatch.setattr(rescoring, "rescore_stale", stale_then_a_wake_up)
    assert rescore_pending() == 1 and nested == [0]
    assert cache.get(PENDING_WAKE_KEY) is None and cache.get(PENDING_DRAIN_KEY) is None

    def broken(*, limit):
        raise RuntimeError("a rule that crashes")

    monkeypatch.setattr(rescoring, "rescore_stale", broken)
    cache.add(PENDING_WAKE_KEY, 1)
    with pytest.raises(RuntimeError):
        rescore_pending()
    assert cache.get(PENDING_WAKE_KEY) is None and cache.get(PENDING_DRAIN_KEY) is None

    monkeypatch.setattr(rescoring, "rescore_stale", real_stale)
    monkeypatch.setattr(rescoring.cache, "add", lambda *args, **kwargs: False)  # what crm.cache answers when Redis errs
    Contact.objects.filter(pk=person.pk).update(needs_rescore=True)
    assert rescore_pending() == 1
    assert not Contact.objects.filter(needs_rescore=True).exists()


def test_bulk_scoring_rescores_a_contact_changed_while_it_was_read(playbooks, monkeypatch):
    """A contact written to between the bulk read and the bulk write is not overwritten
    with stale facts: the one-contact path scores it again, and its move is recorded once."""
    from contacts.models import Interaction
    from scoring import rescoring
    from scoring.rescoring import contacts_rescore

    now = timezone.now()
    person = Contact.objects.create(full_name="Rina", industry="other", needs_rescore=True)
    Interaction.objects.create(contact=person, kind_id="form_submitted", occurred_at=now - timedelta(hours=1))
    real_write = rescoring._write_scores

    def write_after_a_concurrent_event(updates, when):
        # What interaction_log does for an event that lands mid-run: a new row, a touched contact.
        Interaction.objects.create(contact=person, kind_id="form_submitted", occurred_at=now)
        Contact.objects.filter(pk=person.pk).update(updated_at=timezone.now())
        return real_write(updates, when)

    monkeypatch.setattr(rescoring, "_write_scores", write_after_a_concurrent_event)
    outcome = contacts_rescore(contact_ids=[person.pk], now=now)
    person.refresh_from_db()
    assert outcome.scored == 1 and not person.needs_rescore
    assert person.stage == "lead" and len(person.score_breakdown["hits"][0]["interactions"]) == 2
    assert list(person.stage_changes.values_list("from_stage", "to_stage")) == [("contact", "lead")]


def test_a_rescore_that_finds_nothing_new_writes_nothing(playbooks):
    """A result equal to the stored one (same digest) is not written again, so a nightly
    rescore only rewrites the contacts whose score, stage or hits moved, not those whose
    points drifted by decay cents. Marked contacts are always written (to clear the mark);
    what is stored stays what the engine says."""
    now = timezone.now()
    rows = _demo_contacts(300, seed=5, now=now)
    rescore_all_now(now=now)
    scored_at = dict(Contact.objects.values_list("pk", "scored_at"))
    marked = rows[3]
    Contact.objects.filter(pk=marked.pk).update(needs_rescore=True)

    later = now + timedelta(seconds=1)
    assert rescore_all_now(now=later).scored == 300
    rewritten = {pk for pk, at in Contact.objects.values_list("pk", "scored_at") if at != scored_at[pk]}
    assert marked.pk in rewritten and not Contact.objects.get(pk=marked.pk).needs_rescore
    assert len(rewritten) < 30, "a second of decay moves a few cents at most"
    _assert_stored_as_the_engine_says(later)

    # Two months on, windows and decay have moved the scores and hits of many people with
    # recent interactions (the demo's dormant contacts keep theirs): those rows are written.
    two_months = now + timedelta(days=60)
    assert rescore_all_now(now=two_months).scored == 300
    assert Contact.objects.filter(scored_at=two_months).count() > 50
    _assert_stored_as_the_engine_says(two_months)


def _assert_stored_as_the_engine_says(now):
    """Score, stage and what earned them are the engine's as of `now`; the points are the
    engine's as of the breakdown's own time (a kept breakdown may be older, by decay cents)."""
    contacts = list(Contact.objects.prefetch_related("interactions"))
    for contact, expected in _engine_results(contacts, now):
        assert contact.score == expected.score and contact.stage == expected.stage, contact.pk
        assert [(h["rule"], h["interactions"]) for h in contact.score_breakdown["hits"]] == [
            (h.rule_id, list(h.touch_ids)) for h in expected.hits], contact.pk
    for contact in contacts:
        computed = datetime.fromisoformat(contact.score_breakdown["computed_at"])
        assert computed == contact.scored_at, contact.pk
        (_, then), = _engine_results([contact], computed)
        assert [Decimal(h["points"]) for h in contact.score_breakdown["hits"]] == [h.points for h in then.hits]
        assert breakdown_reconciles(contact.score_breakdown, contact.score), contact.pk


def test_result_digest_is_the_same_in_every_process():
    """Workers compare digests another process wrote, so no per-process salted hash (str,
    bytes, datetime) may enter one."""
    import os
    import subprocess
    import sys

    code = (
        "from decimal import Decimal; from scoring import engine;"
        "hit = engine.RuleHit(7, 'Asked for a price', Decimal('12.34'), 2, (10, 11));"
        "r = engine.Result(24, (hit,), 'lead', 'lead', engine.Reason('lead', {}), 'contact');"
        "print(engine.result_digest(r, 3))"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, check=True,
                       capture_output=True, text=True).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1 and int(digests.pop())


def test_check_scores_finds_a_tampered_score(playbooks, make_contact, log, capsys):
    person = make_contact(industry="other")
    log(person, "form_submitted")
    call_command("check_scores")
    assert "reconcile" in capsys.readouterr().out
    Contact.objects.filter(pk=person.pk).update(score=99)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="do not reconcile"):
        call_command("check_scores")


def test_draft_preview_and_publish(playbooks, make_contact, log, admin, django_capture_on_commit_callbacks):
    people = [make_contact(industry="other") for _ in range(3)]
    for person in people[:2]:
        log(person, "form_submitted")  # 12 points: below the lead threshold of 20
    default = RuleSet.objects.get(industry="")
    old = default.active_version
    draft = version_draft(ruleset=default, by=admin)
    assert draft.is_draft and draft.rules.count() == old.rules.count()
    assert version_draft(ruleset=default, by=admin) == draft, "one draft per rule set"
    draft.lead_threshold = 10
    draft.save()

    preview = version_preview(version=draft)
    assert preview.evaluated == 3
    assert preview.moves == [("contact", "lead", 2)]
    assert preview.stage_totals["lead"] == {"before": 0, "after": 2}
    assert {e["contact_id"] for e in preview.examples} == {people[0].pk, people[1].pk}
    assert Contact.objects.filter(stage="lead").count() == 0, "preview writes nothing"

    with django_capture_on_commit_callbacks(execute=True):
        version_publish(version=draft, by=admin)
    default.refresh_from_db()
    old.refresh_from_db()
    assert default.active_version == draft and old.status == RuleSetVersion.Status.ARCHIVED
    assert Contact.objects.filter(stage="lead").count() == 2
    assert set(StageChange.objects.values_list("ruleset_version", flat=True)) == {draft.pk}


def test_rolling_back_publishes_an_older_version_again(playbooks, admin, django_capture_on_commit_callbacks):
    default = RuleSet.objects.get(industry="")
    v1 = default.active_version
    draft = version_draft(ruleset=default, by=admin)
    with django_capture_on_commit_callbacks(execute=True):
        version_publish(version=draft, by=admin)
        rolled = version_publish(version=RuleSetVersion.objects.get(pk=v1.pk), by=admin)
    default.refresh_from_db()
    assert default.active_version == rolled and rolled.number == 3
    assert rolled.rules.count() == v1.rules.count()
    assert RuleSetVersion.objects.get(pk=v1.pk).status == RuleSetVersion.Status.ARCHIVED


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"type": "attribute", "field": "shoe_size", "operator": "eq", "value": "42"}, "field"),
        ({"type": "attribute", "field": "attributes.age", "operator": "gt", "value": "forty"}, "value"),
        ({"type": "attribute", "field": "city", "operator": "in", "value": "Jakarta"}, "value"),
        ({"type": "interaction", "field": "", "operator": ""}, "interaction_kind"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(playbooks, fields, error_field):
    rule = Rule(version=RuleSet.objects.get(industry="").active_version, label="x", points=5, **fields)
    with pytest.raises(ValidationError) as exc:
        rule_validate(rule)
    assert error_field in exc.value.message_dict


def test_unknown_playbook_is_refused(db):
    from scoring.rulesets import playbook_load

    with pytest.raises(ValidationError, match="Unknown playbook"):
        playbook_load(name="fintech")


def test_every_playbook_loads_with_valid_rules(playbooks):
    for name, version in playbooks.items():
        assert version.status == RuleSetVersion.Status.PUBLISHED
        assert version.rules.count() >= 15, name
        assert version.conversion_kinds.exists()
        for rule in version.rules.all():
            rule_validate(rule)


def test_demo_data_gives_a_plausible_funnel(playbooks):
    call_command("seed_demo", contacts=1500, seed=3)
    counts = {s: Contact.objects.filter(stage=s).count() for s in ("contact", "lead", "prospect", "customer")}
    assert counts["contact"] > counts["lead"] > counts["prospect"] > 0, counts
    assert 0 < counts["customer"] < counts["lead"], counts
    call_command("check_scores")


@pytest.mark.worker
def test_real_worker_promotes_contacts(celery_worker_process, playbooks, rep):
    """Through the services on a real broker: the worker moves contact → lead → prospect."""
    from contacts.services import contact_upsert, interaction_log
    from tests.conftest import wait_for

    person = contact_upsert(data={"full_name": "Rina Worker", "email": "rina@pabrik.co.id", "industry": "other"}).contact
    for kind in ("form_submitted", "form_submitted"):
        interaction_log(contact=person, kind=kind)
    wait_for(lambda: Contact.objects.get(pk=person.pk).stage == "lead")
    interaction_log(contact=person, kind="price_requested")  # an explicit request: 24 + 40
    wait_for(lambda: Contact.objects.get(pk=person.pk).stage == "prospect")
    person.refresh_from_db()
    assert person.score == 64, person.score_breakdown
    changes = list(person.stage_changes.order_by("changed_at").values_list("from_stage", "to_stage", "reason_code"))
    assert changes == [("contact", "lead", "lead"), ("lead", "prospect", "prospect")]
    assert person.owner == rep and not person.needs_rescore


@pytest.mark.worker
def test_real_worker_scores_a_burst_of_events_in_bulk(celery_worker_process, playbooks, rep):
    """Forty events in a burst wake the bulk scorer instead of queueing forty tasks; every
    contact ends scored as the engine says, each move recorded once."""
    from django.core.cache import cache

    from contacts.services import contact_upsert, interaction_log
    from scoring.rescoring import PENDING_WAKE_KEY
    from tests.conftest import wait_for

    people = [contact_upsert(data={"full_name": f"Burst {i}", "email": f"burst{i}@pabrik.co.id", "industry": "other"}).contact
              for i in range(40)]
    wait_for(lambda: not Contact.objects.filter(needs_rescore=True).exists())
    for person in people:
        interaction_log(contact=person, kind="content_downloaded")  # 8 + 12: interest, a lead
        interaction_log(contact=person, kind="form_submitted")
    wait_for(lambda: not Contact.objects.filter(needs_rescore=True).exists())
    wait_for(lambda: cache.get(PENDING_WAKE_KEY) is None)  # the drain has ended, nothing more is queued
    assert set(Contact.objects.values_list("stage", flat=True)) == {"lead"}
    assert StageChange.objects.filter(to_stage="lead").count() == 40
    before = dict(Contact.objects.values_list("pk", "score"))
    for person in people:  # the one-contact path agrees and moves nobody again
        assert contact_rescore(contact_id=person.pk).changed is False
    assert dict(Contact.objects.values_list("pk", "score")) == before
