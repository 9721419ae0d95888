"""In a real browser, as an admin: backtest the active version from its page (the live
server runs Celery eagerly, so the results are there when the form returns), backtest a
draft beside it, follow a running backtest's progress, and let the advisor suggest rules.
No console errors on the way: the CSP (script-src/style-src 'self') holds.

Screenshots go to test-artifacts/screenshots/backtest_*.png."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(playbooks):
    """400 contacts of industry "other" over the last four months, seeded: buyers asked for a
    demo or a price more often, and more of the "gold" plan bought. Loaded in bulk (the
    backtest scores every contact itself, as of the moment before it bought)."""
    from contacts.models import Contact, Interaction

    rng = random.Random(5)
    now = timezone.now()
    plans = []
    for n in range(400):
        plan = rng.choice(["gold", "silver", "basic"])
        bought = rng.random() < 0.05 + (0.25 if plan == "gold" else 0.05 if plan == "silver" else 0.0)
        moment = now - timedelta(days=rng.uniform(5, 60)) if bought else now
        touches = [("page_viewed", moment - timedelta(days=rng.uniform(0.5, 25))) for _ in range(rng.randint(0, 4))]
        if rng.random() < (0.55 if bought else 0.12):
            touches.append(("demo_requested", moment - timedelta(days=rng.uniform(1, 20))))
        if rng.random() < (0.5 if bought else 0.15):
            touches.append(("price_requested", moment - timedelta(days=rng.uniform(1, 20))))
        if rng.random() < 0.35:
            touches.append(("form_submitted", moment - timedelta(days=rng.uniform(1, 60))))
        if bought:
            touches.append(("purchase", moment))
        contact = Contact(full_name=f"Pelanggan {n}", email=f"pelanggan{n}@example.co.id", industry="other",
                          created_at=now - timedelta(days=120), attributes={"plan": plan})
        plans.append((contact, touches))
    contacts = Contact.objects.bulk_create([c for c, _t in plans])
    Interaction.objects.bulk_create([
        Interaction(contact=c, kind_id=kind, occurred_at=at, source="test")
        for c, (_c, touches) in zip(contacts, plans, strict=True) for kind, at in touches
    ])
    return contacts


def test_admin_backtests_the_active_version_and_sees_the_chart(browse, screenshot, admin, shop):
    from scoring.models import Backtest, RuleSet

    default = RuleSet.objects.get(industry="")
    page = browse(admin)
    page.goto(page.base + f"/rules/version/{default.active_version_id}/")
    panel = page.locator("#backtest")
    expect(panel.get_by_role("heading", name="Backtest")).to_be_visible()
    screenshot(page, "backtest_version_panel")
    panel.get_by_role("button", name="Run the backtest").click()

    page.wait_for_url("**/rules/backtest/*/")
    run = Backtest.objects.get()
    assert run.status == Backtest.Status.DONE, run.message
    expect(page.locator('[data-result="contacts"]')).to_have_text("400")
    report = page.locator(".version-report")
    expect(report).to_have_count(1)
    expect(report.locator('[data-report="auc"]')).to_have_text(f"{run.results['versions'][0]['auc']:.3f}")
    chart = report.locator('[data-chart="deciles"] svg')
    expect(chart).to_be_visible()
    assert chart.locator("rect.decile-bar").count() >= 5
    assert chart.bounding_box()["width"] > 400
    expect(chart.locator("line.base-rate-line")).to_have_count(1)  # a 0-px-high line is never "visible" to Playwright
    expect(chart.locator("text.base-rate-label")).to_be_visible()
    screenshot(page, "backtest_results")
    assert not page.errors, page.errors


def test_admin_compares_a_draft_with_the_active_version(browse, screenshot, admin, shop):
    from scoring.models import Backtest, RuleSet
    from scoring.rulesets import version_draft

    default = RuleSet.objects.get(industry="")
    draft = version_draft(ruleset=default, by=admin)
    draft.rules.filter(interaction_kind_id="demo_requested").update(points=60)  # buyers asked for demos
    page = browse(admin)
    page.goto(page.base + f"/rules/{default.pk}/draft/")
    panel = page.locator("#backtest")
    # The compact form compares with the active version unless told otherwise.
    assert panel.get_by_label("Compare with").input_value() == str(default.active_version_id)
    panel.get_by_role("button", name="Run the backtest").click()

    page.wait_for_url("**/rules/backtest/*/")
    assert Backtest.objects.get().status == Backtest.Status.DONE
    expect(page.locator(".version-report")).to_have_count(2)
    expect(page.locator('[data-result="compare"]')).to_be_visible()
    expect(page.locator('[data-chart="deciles"] svg')).to_have_count(2)
    screenshot(page, "backtest_compare")
    assert not page.errors, page.errors


def test_progress_follows_a_running_backtest_then_shows_results(browse, screenshot, admin, shop):
    from scoring.advisor.backtest import backtest_params, backtest_run
    from scoring.models import Backtest, RuleSet

    default = RuleSet.objects.get(industry="")
    run = Backtest.objects.create(version=default.active_version, kind="backtest", created_by=admin,
                                  params=backtest_params({}))
    page = browse(admin)
    page.goto(page.base + f"/rules/backtest/{run.pk}/")
    card = page.locator("#progress")
    expect(card.locator('[data-progress="progress"]')).to_have_text("0")
    expect(card.get_by_role("link", name="Refresh")).to_be_visible()  # the no-JS fallback

    Backtest.objects.filter(pk=run.pk).update(status=Backtest.Status.RUNNING, progress=45)
    expect(card.locator('[data-progress="progress"]')).to_have_text("45")
    expect(card.locator('[data-progress="status"]')).to_have_text("Running")
    assert "w-45" in card.locator(".progress-bar").get_attribute("class")
    screenshot(page, "backtest_progress")

    backtest_run(backtest_id=run.pk)  # the worker finishes: the page reloads once, with the results
    expect(page.locator("[data-progress-url]")).to_have_count(0)
    expect(page.locator('[data-chart="deciles"] svg')).to_be_visible()
    assert not page.errors, page.errors


def test_admin_asks_the_advisor_and_reads_the_evidence(browse, screenshot, admin, shop):
    from scoring.models import Backtest, RuleSet

    default = RuleSet.objects.get(industry="")
    page = browse(admin)
    page.goto(page.base + "/rules/")
    page.locator(f"#ruleset-{default.pk}").get_by_role("link", name="Suggest rules from my conversions").click()
    page.wait_for_url(f"**/rules/{default.pk}/advisor/")
    page.get_by_label("…or as a share of new contacts (%)").fill("40")
    page.get_by_label("Minimum support").fill("15")
    screenshot(page, "backtest_advisor_form")
    page.get_by_role("button", name="Suggest rules").click()

    page.wait_for_url("**/rules/advisor/*/")
    run = Backtest.objects.get(kind="advisor")
    assert run.status == Backtest.Status.DONE, run.message
    expect(page.locator('[data-feature="plan=gold"]')).to_be_visible()
    expect(page.locator("#evidence .badge-success").first).to_be_visible()
    # With fewer than 30 held-out conversions the AUC is noise, and the page says so instead of printing it.
    auc = "–" if run.results["few_conversions"] else f"{run.results['backtest']['versions'][0]['auc']:.3f}"
    expect(page.locator('[data-result="holdout_auc"]')).to_have_text(auc)
    screenshot(page, "backtest_advisor")

    # The draft it wrote: every rule's label carries its evidence.
    page.locator('.page-actions [data-link="draft"]').click()
    page.wait_for_url(f"**/rules/{default.pk}/draft/")
    labels = page.locator("#rules .rules-table td.cell-title").all_inner_texts()
    assert labels and all("(n=" in label and "lift" in label for label in labels)
    screenshot(page, "backtest_advisor_draft")
    assert not page.errors, page.errors


def test_backtest_in_indonesian_on_a_phone(browse, screenshot, admin, shop):
    from scoring.models import RuleSet

    default = RuleSet.objects.get(industry="")
    page = browse(admin, locale="id-ID", width=390, height=844)
    page.goto(page.base + f"/rules/version/{default.active_version_id}/")
    assert page.locator("html").get_attribute("lang") == "id"
    page.locator("#backtest button[type=submit]").click()
    page.wait_for_url("**/rules/backtest/*/")
    expect(page.locator('[data-chart="deciles"] svg')).to_be_visible()
    assert "," in page.locator('[data-report="auc"]').inner_text()  # 0,7xx: text follows the language
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    screenshot(page, "backtest_results_id_phone")
    assert not page.errors, page.errors


def test_without_outcomes_the_advisor_explains_where_they_come_from(browse, screenshot, admin, playbooks):
    from scoring.models import RuleSet

    default = RuleSet.objects.get(industry="")
    page = browse(admin)
    page.goto(page.base + f"/rules/{default.pk}/advisor/")
    empty = page.locator('[data-empty="no-outcomes"]')
    expect(empty).to_contain_text("conversion-level interaction")
    expect(empty.get_by_role("link", name="Import a history with outcomes")).to_be_visible()
    expect(page.get_by_role("button", name="Suggest rules")).to_have_count(0)
    screenshot(page, "backtest_no_outcomes")
    assert not page.errors, page.errors
