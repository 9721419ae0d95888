"""Stage-change reasons, stored as a code plus parameters and rendered in the reader's
language, e.g. "skor 64 ≥ ambang prospek 60; niat: Menanyakan harga 20 Nov 2026"."""

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from contacts.catalog import KINDS

_KIND_NAMES = {slug: (name_en, name_id) for slug, name_en, name_id, _level in KINDS}


def kind_name(slug: str) -> str:
    """A built-in kind's name in the active language; an admin's own kind keeps its slug (no query per reason)."""
    names = _KIND_NAMES.get(slug)
    if names is None:
        return slug
    return names[1] if (get_language() or "").startswith("id") else names[0]


def day(value: Any) -> str:
    """An ISO date stored in the params, in the active language's short date format."""
    try:
        return formats.date_format(date.fromisoformat(str(value)[:10]), "SHORT_DATE_FORMAT")
    except ValueError:
        return str(value)


class _Params(dict):
    """Missing parameters render as a dash instead of breaking a page on odd history rows."""

    def __missing__(self, key: str) -> str:
        return "—"


def moved_text(moved: Any) -> str:
    """What a merge moved, [[model label, count], ...], as "3 interactions, 1 note" in the active language."""
    from django.apps import apps

    parts = []
    for label, n in moved if isinstance(moved, list) else ():
        try:
            meta = apps.get_model(label)._meta
        except (LookupError, ValueError):
            parts.append(f"{n} {label}")
            continue
        parts.append(f"{n} {meta.verbose_name if n == 1 else meta.verbose_name_plural}")
    return ", ".join(parts) or _("nothing to move")


def note_text(message: str, params: Mapping[str, Any]) -> str:
    """A system note in the active language: its msgid translated, its parameters filled (a consent
    channel by its name, what a merge moved by the models' names). A missing parameter renders as a dash."""
    from contacts.models import Channel

    values = _Params(params or {})
    if values.get("channel") in Channel.values:
        values["channel"] = Channel(values["channel"]).label
    if "moved" in values:
        values["moved"] = moved_text(values["moved"])
    return _(message) % values


def reason_text(code: str, params: Mapping[str, Any], user=None) -> str:
    p = _Params(params or {})
    if code == "lead":
        return _("score %(score)s ≥ lead threshold %(threshold)s") % p
    if code == "prospect":
        text = _("score %(score)s ≥ prospect threshold %(threshold)s") % p
        if p.get("intent_kind"):
            text += "; " + _("intent: %(intent_kind)s %(intent_date)s") % {
                "intent_kind": kind_name(p["intent_kind"]), "intent_date": day(p["intent_date"])}
        return text
    if code == "conversion":
        return _("converted: %(kind)s on %(date)s") % {"kind": kind_name(p["kind"]), "date": day(p["date"])}
    if code == "demoted_inactive":
        last = p.get("last_activity")
        return _("no activity for %(days)s days (last: %(last_activity)s); score %(score)s no longer holds the stage") % {
            "days": p.get("days"), "last_activity": day(last) if last else "—", "score": p.get("score"),
        }
    if code == "manual":
        who = (user.get_full_name() or user.username) if user else _("a user")
        text = _("set by hand by %(user)s") % {"user": who}
        if p.get("note"):
            text += f": {p['note']}"
        return text
    if code == "merged":
        return _("merged with contact #%(other)s") % p
    if code == "rolled_back":
        return _("returned where it was before v%(from_number)s: the rules were rolled back to v%(to_number)s") % p
    return code
