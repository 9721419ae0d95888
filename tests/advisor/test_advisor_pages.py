"""The advisor page shows the thresholds chosen from the team's capacity: the reasons in plain
words, the trade-off (threshold -> share, conversion rate, lift, recall) as a table and a chart,
numbers in the reader's language, and an explanation for any negative threshold."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from scoring.advisor import advisor_run, advisor_start
from scoring.models import Backtest, RuleSet

from .conftest import PERIOD_END

pytestmark = pytest.mark.django_db
SVG_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def _run(**params) -> Backtest:
    ruleset = RuleSet.objects.get(industry="ecommerce")
    run = advisor_start(ruleset, None, {"outcome": "purchase", "end": PERIOD_END.isoformat(), "min_support": 20, **params},
                        queue=False)
    return advisor_run(backtest_id=run.pk)


def _rows(body: str) -> list[tuple[int, list[str]]]:
    table = body.split('class="table table-compact table-cards tradeoff-table"')[1].split("</table>")[0]
    return [(int(t), re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S))
            for t, row in re.findall(r'<tr data-tradeoff="(-?\d+)"[^>]*>(.*?)</tr>', table, flags=re.S)]


def test_the_page_shows_the_trade_off_as_a_table_and_a_chart(shop_history, client_for, admin):
    run = _run(capacity_share=0.2)
    assert run.status == Backtest.Status.DONE, run.message
    prospect = run.results["thresholds"]["prospect"]
    assert run.results["capacity"] == {"share": 0.2, "source": "share", "per_week": None, "weekly_new": None}
    assert prospect["share"] <= 0.2

    body = client_for(admin).get(reverse("rules:advisor", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-capacity="share"' in body and "Your team can follow up 20% of new contacts." in body
    assert f'data-prospect-status="{prospect["status"]}"' in body and f"Prospects: score ≥ {prospect['threshold']}." in body
    rows = _rows(body)
    thresholds = [t for t, _cells in rows]
    assert len(rows) >= 5 and thresholds == sorted(thresholds, reverse=True)
    for _threshold, cells in rows:  # threshold, share, rate, lift, recall, stage badges
        assert cells[1].endswith("%") and cells[2].endswith("%") and cells[3].endswith("×") and cells[4].endswith("%")
    chosen = dict(rows)[prospect["threshold"]]
    assert "badge-prospect" in chosen[5]
    assert "badge-lead" in dict(rows)[run.results["thresholds"]["lead"]["threshold"]][5]
    # Down the table the share and the recall only grow (prospects need buying intent here, so the
    # last row holds every contact who had it, not everyone).
    table = run.results["tradeoff"]["table"]
    assert [r["share"] for r in table] == sorted(r["share"] for r in table)
    assert [r["recall"] for r in table] == sorted(r["recall"] for r in table)

    chart = body.split('data-chart="tradeoff"')[1].split("</svg>")[0]
    for series in ("rate", "recall"):
        points = re.search(rf'data-series="{series}" points="([^"]+)"', chart).group(1).split()
        assert len(points) > 5 and all(SVG_NUMBER.match(v) for p in points for v in p.split(","))
    assert 'data-mark="prospect"' in chart and 'data-mark="lead"' in chart
    assert 'data-line="capacity"' in chart and 'data-line="base"' in chart and 'data-line="aim"' in chart
    for value in re.findall(r'(?:x1|x2|y1|y2|cx|cy)="([^"]*)"', chart):
        assert SVG_NUMBER.match(value), value


def test_every_table_stacks_into_labelled_cards_on_a_phone(shop_history, client_for, admin):
    """Issue 18: nothing scrolls sideways on a phone; the advisor's tables (the trade-off, the evidence, the
    held-out backtest's comparison and stage metrics) stack into cards, each cell labelled in the reader's language."""
    from tests.pages.test_phone_cards import labels

    run = _run(capacity_share=0.2)
    body = client_for(admin).get(reverse("rules:advisor", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    found = {label for table in labels(body) for label in table}
    assert {"Skor minimal", "Tingkat konversi", "Lift", "Poin"} <= found, found


def test_the_page_speaks_indonesian_with_indonesian_numbers(shop_history, client_for, admin):
    run = _run()
    body = client_for(admin).get(reverse("rules:advisor", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Prospek yang dapat ditindaklanjuti tim Anda" in body and "Kapasitas tidak diisi" in body
    rows = _rows(body)
    assert any(re.fullmatch(r"\d+,\d%", cells[1]) for _t, cells in rows) and re.fullmatch(r"\d+,\d\d×", rows[0][1][3])
    assert "25%" in body.split('data-capacity="default"')[1].split("</li>")[0]
    chart = body.split('data-chart="tradeoff"')[1].split("</svg>")[0]
    assert "Bagian kontak pada atau di atas ambang" in chart
    assert not re.search(r'(?:x1|x2|y1|y2|cx|cy)="[^"]*,', chart)  # never a comma in an SVG coordinate


def _stored(version, **results) -> Backtest:
    """A finished advisor run with hand-made results: what the template must explain."""
    point = {"threshold": -5, "contacts": 80, "conversions": 27, "total": 100, "positives": 30,
             "share": 0.8, "rate": 0.3375, "lift": 1.125, "recall": 0.9}
    base = {
        "split": {"train": 100, "test": 60, "train_conversions": 30, "test_conversions": 12},
        "rules": 1, "evidence": [], "excluded": [], "notes": [],
        "capacity": {"share": 0.25, "source": "default", "per_week": None, "weekly_new": None},
        "thresholds": {
            "prospect": {**point, "threshold": 4, "contacts": 20, "share": 0.2, "conversions": 12, "rate": 0.6, "lift": 2.0,
                         "recall": 0.4, "status": "met", "capacity": 0.25, "min_lift": 2.0, "best_lift": 2.5, "top_share": 0.05},
            "lead": {**point, "status": "met", "target_recall": 0.9, "negative": True, "below_share": 0.2, "below_rate": 0.15,
                     "below_lift": 0.5},
        },
        "tradeoff": {"points": [point], "table": [point]},
        "few_conversions": True,
        "backtest": {"contacts": 60, "conversions": 12, "base_rate": 0.2, "versions": []},
    }
    return Backtest.objects.create(version=version, kind="advisor", status=Backtest.Status.DONE, params={"min_support": 30},
                                   results={**base, **results})


def test_a_negative_lead_threshold_is_explained_and_few_conversions_are_flagged(playbooks, client_for, admin):
    run = _stored(RuleSet.objects.get(industry="").active_version)
    body = client_for(admin).get(reverse("rules:advisor", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    explained = body.split('data-negative="lead"')[1].split("</li>")[0]
    assert "The lead threshold is negative (-5) because rules with negative points" in explained
    assert 'data-warning="few-conversions"' in body and "Only 12 contacts converted among the held-out contacts" in body
    assert re.search(r'data-result="holdout_auc"[^>]*>–<', body)


@pytest.mark.parametrize(("status", "words"), [
    ("lift_not_reached", "Your data do not allow prospects that convert at 2.00× the base rate within 25% of contacts"),
    ("no_room", "No threshold fits the capacity"),
])
def test_when_the_data_do_not_allow_the_aim_the_page_says_so(playbooks, client_for, admin, status, words):
    run = _stored(RuleSet.objects.get(industry="").active_version)
    run.results["thresholds"]["prospect"]["status"] = status
    run.save(update_fields=["results"])
    body = client_for(admin).get(reverse("rules:advisor", args=[run.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-prospect-status="{status}"' in body and words in body


def test_capacity_is_given_per_week_or_as_a_share_not_both(playbooks, client_for, admin):
    ruleset = RuleSet.objects.get(industry="")
    response = client_for(admin).post(reverse("rules:advisor_new", args=[ruleset.pk]),
                                      {"capacity_per_week": "50", "capacity_share": "10", "min_support": "5"},
                                      HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "not both" in response.content.decode()
    assert not Backtest.objects.exists()


def test_a_capacity_per_week_without_new_contacts_falls_back_to_the_default_and_says_so(shop_history):
    run = _run(capacity_per_week=40)  # every contact was created months before the period's end
    assert run.results["capacity"] == {"share": 0.25, "source": "no_intake", "per_week": 40, "weekly_new": 0.0}
