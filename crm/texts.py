"""Text stored as data, rendered in the reader's language (issue 18, defect 3).

What a page shows from a stored row is kept as an English source text (a msgid, marked with
`gettext_noop` where it is written) plus its parameters, and rendered when it is read, so an
English reader and an Indonesian reader of the same row each read their own language, with
numbers in their own format ("0.35" / "0,35"). A parameter is one of:

- a string or an integer: filled in as it is;
- a number to show with decimals: `number(0.35, 2)` -> {"number": 0.35, "decimals": 2};
- a share to show as a percentage: `percent(0.125, 1)` -> {"percent": 0.125, "decimals": 1};
- another stored text: `text("%(field)s is blank", field="pdays")` -> {"message": ..., "params": ...}.

A missing parameter renders as a dash, so an odd old row never breaks a page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import formats
from django.utils.translation import gettext


def number(value: float, decimals: int) -> dict[str, Any]:
    return {"number": value, "decimals": decimals}


def percent(value: float, decimals: int = 0) -> dict[str, Any]:
    return {"percent": value, "decimals": decimals}


def text(message: str, **params: Any) -> dict[str, Any]:
    return {"message": message, "params": params}


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return "—"


def value_render(value: Any) -> Any:
    """One parameter in the active language (see the module's docstring)."""
    if isinstance(value, Mapping):
        if "message" in value:
            return text_render(str(value["message"]), value.get("params") or {})
        if "number" in value:
            return formats.number_format(value["number"], int(value.get("decimals", 0)), use_l10n=True)
        if "percent" in value:
            decimals = int(value.get("decimals", 0))
            return formats.number_format(float(value["percent"]) * 100, decimals, use_l10n=True) + "%"
    return value


def text_render(message: str, params: Mapping[str, Any] | None = None) -> str:
    """A stored text in the active language: its msgid translated, its parameters filled."""
    if not message:
        return ""
    translated = gettext(message)
    if not params:
        return translated
    try:
        return translated % _Params({key: value_render(value) for key, value in params.items()})
    except (TypeError, ValueError):
        return translated  # a parameter of the wrong type (an old row): the sentence without it


def texts_render(parts: Iterable[Any]) -> str:
    """Several stored sentences ([msgid, params] pairs, or {"message", "params"}), joined by spaces."""
    out = []
    for part in parts or ():
        if isinstance(part, Mapping):
            out.append(text_render(str(part.get("message", "")), part.get("params")))
        elif isinstance(part, (list, tuple)) and part:
            out.append(text_render(str(part[0]), part[1] if len(part) > 1 else None))
    return " ".join(s for s in out if s)
