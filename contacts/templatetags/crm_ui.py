"""Small template helpers for the page layout (active nav links, query strings, stage badges)."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.http import HttpRequest, QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contacts.models import Stage

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_current(context, prefix: str, exact: bool = False) -> SafeString | str:
    """`aria-current="page"` when the request path is (or starts with) `prefix`; CSS styles it."""
    request: HttpRequest | None = context.get("request")
    if request is None:
        return ""
    path = request.path
    hit = path == prefix if exact else path.startswith(prefix)
    return format_html('aria-current="{}"', "page") if hit else ""


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some keys replaced (None or "" drops the key); keeps filters on sort/page links."""
    request: HttpRequest | None = context.get("request")
    query: QueryDict = request.GET.copy() if request is not None else QueryDict(mutable=True)
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return "?" + encoded if encoded else "?"


@register.filter
def duration(value: timedelta | float | int | None) -> str:
    """A human-friendly duration: "45 minutes", "6 hours", "3 days", "2 months" (timedelta or seconds)."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    minutes = seconds / 60
    if minutes < 1:
        return _("under a minute")
    if minutes < 90:
        n = round(minutes)
        return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}
    hours = minutes / 60
    if hours < 36:
        n = round(hours)
        return ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}
    days = hours / 24
    if days < 60:
        n = round(days)
        return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}
    n = round(days / 30.4)
    return ngettext("%(n)d month", "%(n)d months", n) % {"n": n}


@register.filter
def percent(value: float | None, digits: int = 0) -> str:
    """0.1234 -> "12%" (localized decimal separator comes from floatformat)."""
    if value is None:
        return "—"
    from django.template.defaultfilters import floatformat

    return f"{floatformat(value * 100, digits)}%"


ROLE_LABELS = {
    "admin": gettext_lazy("Admin"),
    "marketer": gettext_lazy("Marketer"),
    "sales": gettext_lazy("Sales rep"),
    "sales_manager": gettext_lazy("Sales manager"),
}


@register.filter
def role_labels(roles) -> list[str]:
    """Translated, sorted role names for the user menu."""
    return sorted(str(ROLE_LABELS.get(r, r)) for r in roles or ())


def _nice_step(value: float) -> int:
    """The smallest "round" integer step ≥ value: 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, …"""
    scale = 1
    while True:
        for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8):
            step = m * scale
            if step == int(step) and step >= value:
                return int(step)
        scale *= 10


def _coord(value: float) -> str:
    """An SVG coordinate as a string, so Indonesian number formatting ("206,5") never reaches an attribute."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


@register.inclusion_tag("crm/_trend_chart.html")
def trend_chart(weeks: list[dict], series: tuple[str, ...] = ("lead", "prospect"), title: str = "", unit: str = "week") -> dict:
    """Grouped bars per week as a server-rendered SVG (no JS, no inline styles)."""
    width, height = 720, 240
    left, right, top, bottom = 44, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((w.get(s, 0) for w in weeks for s in series), default=0)
    step = _nice_step(max(peak, 1) / 4)
    y_max = step * 4
    n = max(len(weeks), 1)
    slot = plot_w / n
    bar_w = max(min(slot * 0.8 / len(series), 22), 2)
    groups = []
    labels = {s: (Stage(s).label if s in Stage.values else s) for s in series}  # the reader's words, not slugs
    label_every = max(1, round(n / 8))
    for i, week in enumerate(weeks):
        x0 = left + i * slot + (slot - bar_w * len(series)) / 2
        bars = []
        for j, s in enumerate(series):
            v = week.get(s, 0)
            h = plot_h * v / y_max
            bars.append({"series": s, "label": labels[s], "value": v, "x": _coord(x0 + j * bar_w), "y": _coord(top + plot_h - h),
                         "w": _coord(bar_w - 1), "h": _coord(h)})
        groups.append({"week": week["week"], "bars": bars, "label_x": _coord(left + i * slot + slot / 2),
                       "show_label": i % label_every == 0})
    ticks = [{"value": step * k, "y": _coord(top + plot_h - plot_h * k / 4)} for k in range(5)]
    return {
        "width": str(width), "height": str(height), "left": str(left), "axis_x": str(left - 8), "right": str(width - right),
        "bottom": str(top + plot_h), "label_y": str(height - 12), "groups": groups, "ticks": ticks, "series": series,
        "title": title, "empty": peak == 0, "monthly": unit == "month",
    }


@register.filter
def width_class(value: float | int | None, total: float | int | None = 1) -> str:
    """A .w-N class (N in steps of 5) for value/total, since the CSP forbids style="width: …"."""
    if not value or not total:
        return "w-0"
    share = max(0.0, min(1.0, float(value) / float(total)))
    step = int(round(share * 20)) * 5
    return f"w-{max(step, 5)}"


@register.filter
def ago(value) -> str:
    """A short relative time: "4 days ago", "in 3 hours" (one unit, unlike naturaltime's two)."""
    if not value:
        return ""
    from django.utils import timezone
    from django.utils.timesince import timesince, timeuntil

    now = timezone.now()
    if abs((now - value).total_seconds()) < 60:
        return _("just now")
    if value <= now:
        return _("%(time)s ago") % {"time": timesince(value, now, depth=1)}
    return _("in %(time)s") % {"time": timeuntil(value, now, depth=1)}


@register.filter
def stored_text(value):
    """Text stored as data (crm.texts: a message id and parameters) in the reader's language; a plain
    string (an older row, or what a person typed) as it is."""
    from crm.texts import value_render

    return value_render(value)
