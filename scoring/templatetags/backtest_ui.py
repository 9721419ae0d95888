"""Template helpers of the backtest and advisor pages: rates, lifts, the decile chart,
and the compact backtest form that sits on every version page.

Numbers shown as text go through floatformat (Indonesian reads "18,2%" with a comma);
numbers in SVG attributes are plain strings with a dot, whatever the language."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import OuterRef, Subquery
from django.template.defaultfilters import floatformat
from django.urls import reverse

from scoring.advisor.forms import BacktestForm
from scoring.models import Backtest, RuleSetVersion

register = template.Library()

DASH = "–"


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.1825 -> "18.2%" (locale-aware decimal separator)."""
    if value is None or value == "":
        return DASH
    # Rounded first: 0.45 * 100 is 45.00000000000001, which would read "45.0%".
    return f"{floatformat(round(float(value) * 100, 6), -int(digits))}%"


@register.filter
def lift(value: float | None) -> str:
    """2.25 -> "2.25×": how many times the base rate."""
    if value is None or value == "":
        return DASH
    return f"{floatformat(value, 2)}×"


@register.filter
def auc(value: float | None) -> str:
    return DASH if value is None or value == "" else floatformat(value, 3)


@register.filter
def number(value: float | int | None) -> str:
    """A score: whole numbers as such, others with up to two decimals."""
    return DASH if value is None or value == "" else floatformat(value, -2)


def _coord(value: float) -> str:
    """An SVG coordinate as a string with a dot: Indonesian formatting ("206,5") must never reach an attribute."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_max(peak: float) -> float:
    """The top of the y axis: a share ≥ peak whose quarters read well (1 %, 2 %, 2.5 %, 5 %, … 25 % steps)."""
    for top in (0.02, 0.04, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0):
        if peak <= top + 1e-9:
            return top
    return 1.0


@register.inclusion_tag("scoring/backtest_chart.html")
def decile_chart(report: dict[str, Any], base_rate: float | None, prefix: str = "chart", index: int = 1) -> dict[str, Any]:
    """Conversion rate per score decile as SVG bars, 1 (highest scores) on the left, with the
    base rate as a dashed line. Deciles that tied scores left empty keep their slot."""
    # Narrow enough that the labels stay legible when a phone scales the chart down.
    width, height = 440, 224
    left, right, top, bottom = 40, 8, 20, 38
    plot_w, plot_h = width - left - right, height - top - bottom
    by_decile = {d["decile"]: d for d in report.get("deciles", [])}
    peak = max([d["rate"] for d in by_decile.values()] + [base_rate or 0.0])
    y_max = _nice_max(peak)
    slot = plot_w / 10
    bar_w = slot * 0.68
    bars = []
    for decile in range(1, 11):
        d = by_decile.get(decile)
        x = left + (decile - 1) * slot
        centre = _coord(x + slot / 2)
        if d is None:
            bars.append({"decile": decile, "empty": True, "label_x": centre})
            continue
        h = plot_h * min(d["rate"], y_max) / y_max
        bar_h = max(h, 1.0)  # a 0 % decile still shows a sliver on the axis
        bars.append({
            "decile": decile, "empty": False, "data": d, "label_x": centre,
            "x": _coord(x + (slot - bar_w) / 2), "y": _coord(top + plot_h - bar_h), "w": _coord(bar_w), "h": _coord(bar_h),
            "value_y": _coord(top + plot_h - h - 5),
            "top": decile == 1,
        })
    ticks = [{"share": y_max * k / 4, "y": _coord(top + plot_h - plot_h * k / 4)} for k in range(5)]
    base_y = None if base_rate is None else _coord(top + plot_h - plot_h * min(base_rate, y_max) / y_max)
    return {
        "chart_id": f"{prefix}-deciles-{index}", "width": str(width), "height": str(height), "left": str(left), "right": str(width - right),
        "axis_x": str(left - 6), "bottom": str(top + plot_h), "label_y": str(top + plot_h + 16),
        # The caption (left) and the base-rate legend (right) share the bottom line, outside
        # the plot, so no label ever covers a bar's value.
        "caption_y": str(height - 4), "caption_x": str(left),
        "bars": bars, "ticks": ticks, "base_y": base_y, "base_rate": base_rate,
        "legend_x1": str(width - right - 128), "legend_x2": str(width - right - 110), "legend_y": str(height - 8),
        "legend_text_x": str(width - right - 105),
        "report": report,
    }


@register.inclusion_tag("scoring/backtest_panel.html", takes_context=True)
def backtest_panel(context: template.Context, version: RuleSetVersion) -> dict[str, Any]:
    """The compact "Backtest" form of a version page, with a link to this version's
    latest backtest. One query: the rule set's versions, each with its latest run."""
    latest = Backtest.objects.filter(version=OuterRef("pk"), kind="backtest").order_by("-created_at", "-id")
    versions = list(
        RuleSetVersion.objects.filter(ruleset_id=version.ruleset_id)
        .annotate(last_run_id=Subquery(latest.values("pk")[:1]), last_run_status=Subquery(latest.values("status")[:1]))
        .order_by("-number")
    )
    this = next((v for v in versions if v.pk == version.pk), None)
    last_run_id = getattr(this, "last_run_id", None)
    return {
        "csrf_token": context.get("csrf_token"),
        "version": version,
        "form": BacktestForm(version=version, versions=versions, with_outcome=False, auto_id="id_backtest_%s"),
        "action": reverse("rules:backtest_new", args=[version.pk]),
        "last_run_url": reverse("rules:backtest", args=[last_run_id]) if last_run_id else None,
        "last_run_status": Backtest.Status(this.last_run_status).label if last_run_id else "",
    }
