"""`manage.py advise_rules` and `manage.py backtest` print what the pages show."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from scoring.models import Backtest, RuleSet

from .conftest import PERIOD_END

pytestmark = pytest.mark.django_db


def _call(*args: str) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command(*args, stdout=out)
    return out.getvalue()


def test_advise_rules_prints_the_evidence_and_writes_the_draft(shop_history):
    output = _call("advise_rules", "--outcome", "purchase", "--industry", "ecommerce", "--min-support", "20",
                   "--end", PERIOD_END.date().isoformat(), "--target-precision", "0.6")
    run = Backtest.objects.get(kind="advisor")
    draft = RuleSet.objects.get(industry="ecommerce").draft()
    assert run.version == draft and run.params["target_precision"] == 0.6
    lines = output.splitlines()
    header = next(line for line in lines if line.startswith("feature"))
    assert all(word in header for word in ("n", "conv", "rate", "95% CI", "lift", "points"))
    gold = next(line for line in lines if line.startswith("segment=gold"))
    assert f"{next(r for r in run.results['evidence'] if r['feature'] == 'segment=gold')['points']:+d}" in gold
    assert "Left out attributes.converted" in output
    assert "prospect threshold" in output and "Backtest on the 270 held-out contacts" in output
    assert "AUC" in output and f"Wrote {draft.rules.count()} rules into {draft}" in output


def test_advise_rules_refuses_an_unknown_outcome(shop_history):
    with pytest.raises(CommandError, match="bought_a_boat"):
        _call("advise_rules", "--outcome", "bought_a_boat", "--industry", "ecommerce")
    assert not Backtest.objects.exists()


def test_advise_rules_reports_a_failed_run(playbooks):
    with pytest.raises(CommandError, match="Too few contacts"):
        _call("advise_rules", "--outcome", "conversion", "--industry", "default")


def test_backtest_command_prints_both_versions(tiers):
    draft, published = tiers
    output = _call("backtest", str(draft.pk), "--compare-to", str(published.pk), "--outcome", "purchase",
                   "--end", PERIOD_END.isoformat())
    assert "12 contacts, 4 converted (base rate 33.3%)" in output
    assert f"{draft}: AUC 0.875" in output and str(published) in output
    assert "prospect or beyond: 4 contacts, precision 75.0%, recall 75.0%" in output
