"""Message templates in a sandbox: `{{ name }}` substitutes one of a fixed set of variables, and
nothing else is template syntax. No tags, filters, attribute lookups or settings: a marketer's text
can never read the database or the configuration. Pure; problems come back as codes with
parameters, and the caller words them in the viewer's language."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

VARIABLES = ("first_name", "full_name", "company", "city", "job_title", "owner_name", "unsubscribe_url")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
URL = re.compile(r"https?://[^\s<>\"'()]+[^\s<>\"'().,;:!?]")


@dataclass(frozen=True)
class Problem:
    code: str  # "tag", "malformed", "unknown_variable"
    params: Mapping[str, str]


def problems(text: str) -> list[Problem]:
    """Everything wrong with a template, in reading order; empty when it renders."""
    found: list[Problem] = []
    for match in _VARIABLE.finditer(text):
        if match.group(1) not in VARIABLES:
            found.append(Problem("unknown_variable", {"name": match.group(1), "known": ", ".join(VARIABLES)}))
    rest = _VARIABLE.sub("", text)
    for match in _ANY_SYNTAX.finditer(rest):
        code = "tag" if match.group() in ("{%", "%}", "{#", "#}") else "malformed"
        found.append(Problem(code, {"near": rest[max(0, match.start() - 15):match.end() + 15].strip()}))
    return found


def variables_used(text: str) -> set[str]:
    return {m.group(1) for m in _VARIABLE.finditer(text)}


def render(text: str, values: Mapping[str, str]) -> str:
    """Substitute the variables; the caller checked `problems()` first (an unknown name renders empty)."""
    return _VARIABLE.sub(lambda m: str(values.get(m.group(1), "")), text)


def first_name(full_name: str) -> str:
    parts = (full_name or "").split()
    return parts[0] if parts else ""
