"""Template helpers of the rules pages: points, rule values, stage labels, form rows."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _

from contacts.models import Stage
from scoring.models import Rule
from scoring.playbooks import PLAYBOOKS

register = template.Library()


@register.filter
def signed(points: float | Decimal | int | None) -> str:
    """+5, −20, +2.5 (points read better with their sign; locale-aware decimals)."""
    if points is None or points == "":
        return "—"
    number = Decimal(str(points))
    text = floatformat(abs(number), -2)
    return f"+{text}" if number > 0 else f"−{text}" if number < 0 else "0"


@register.filter
def points_class(points: float | Decimal | int | None) -> str:
    if not points:
        return "badge-muted"
    return "badge-success" if Decimal(str(points)) > 0 else "badge-danger"


@register.filter
def rule_value(value: Any) -> str:
    """A rule's JSON value as people read it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(rule_value(v) for v in value)
    return str(value)


@register.filter
def operator_label(operator: str) -> str:
    return str(Rule.Operator(operator).label) if operator in Rule.Operator.values else operator


@register.filter
def stage_label(stage: str) -> str:
    return str(Stage(stage).label) if stage in Stage.values else stage


@register.filter
def width_class(percent: int | float | None) -> str:
    """A .w-NN class (steps of 5) for progress bars: the CSP forbids style="width:…"."""
    value = max(0, min(100, int(percent or 0)))
    return f"w-{value - value % 5}"


@register.filter
def delta(totals: Mapping[str, int]) -> int:
    return totals["after"] - totals["before"]


@register.filter
def reason_text(reason) -> str:
    """An engine.Reason rendered like a stored StageChange reason."""
    from contacts.reasons import reason_text as render

    return render(reason.code, reason.params) if reason else ""


@register.inclusion_tag("scoring/_field.html")
def form_row(field, css: str = "") -> dict[str, Any]:
    """One labelled field with its help text and errors (classes from app.css)."""
    return {"field": field, "css": css}


@register.filter
def playbook_title(name: str) -> str:
    """A playbook by its title in the reader's language ("Pendidikan"), not its slug ("education")."""
    playbook = PLAYBOOKS.get(name)
    return _(playbook.title) if playbook else name
