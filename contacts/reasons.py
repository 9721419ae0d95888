"""Stage-change reasons, stored as a code plus parameters and rendered in the reader's
language, e.g. "skor 64 ≥ ambang prospek 60; niat: price_requested 2026-11-20"."""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _


class _Params(dict):
    """Missing parameters render as a dash instead of breaking a page on odd history rows."""

    def __missing__(self, key: str) -> str:
        return "—"


def reason_text(code: str, params: Mapping[str, Any], user=None) -> str:
    p = _Params(params or {})
    if code == "lead":
        return _("score %(score)s ≥ lead threshold %(threshold)s") % p
    if code == "prospect":
        text = _("score %(score)s ≥ prospect threshold %(threshold)s") % p
        if p.get("intent_kind"):
            text += "; " + _("intent: %(intent_kind)s %(intent_date)s") % p
        return text
    if code == "conversion":
        return _("converted: %(kind)s on %(date)s") % p
    if code == "demoted_inactive":
        return _("no activity for %(days)s days (last: %(last_activity)s); score %(score)s no longer holds the stage") % {
            "days": p.get("days"), "last_activity": p.get("last_activity") or "—", "score": p.get("score"),
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
