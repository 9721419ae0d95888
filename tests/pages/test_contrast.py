"""Text contrast (issue 18, defect 10): every text colour the stylesheets put on a background is at
least 4.5:1 (WCAG AA for normal text). The CSS custom properties of :root are read from app.css;
a rule that sets a colour and a background is checked as that pair; a rule that sets only a
colour from the palette is checked on each light surface text sits on (page, card, tinted row)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css"
AA = 4.5
LIGHT_SURFACES = ("surface", "bg", "surface-2")


def _without_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def palette() -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", _without_comments((CSS / "app.css").read_text()), re.S).group(1)
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", root))


def _rgb(colour: str) -> list[float]:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]


def _luminance(colour: str) -> float:
    channels = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in _rgb(colour)]
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _resolve(value: str, colours: dict[str, str]) -> str | None:
    value = value.replace("!important", "").strip()
    if match := re.fullmatch(r"var\(--([\w-]+)\)", value):
        return colours.get(match.group(1))
    return value if re.fullmatch(r"#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}", value) else None


def text_pairs() -> list[tuple[str, str, str, str]]:
    """(file and selector, foreground, background name, background) for every text colour used on a background."""
    colours = palette()
    pairs = []
    for sheet in sorted(CSS.glob("*.css")):
        for selector, body in re.findall(r"([^{}]+){([^{}]*)}", _without_comments(sheet.read_text())):
            declarations = {k.strip(): v.strip() for k, v in re.findall(r"(?:^|;)\s*([\w-]+)\s*:\s*([^;]+)", body)}
            if "color" not in declarations or not (fg := _resolve(declarations["color"], colours)):
                continue
            where = f"{sheet.name} {selector.strip()}"
            background = declarations.get("background") or declarations.get("background-color")
            if background and (bg := _resolve(background, colours)):
                pairs.append((where, fg, background, bg))
            elif not background and declarations["color"].startswith("var("):
                pairs.extend((where, fg, f"--{name}", colours[name]) for name in LIGHT_SURFACES)
    return pairs


def test_the_ratio_is_computed_as_wcag_says():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#8a92a6", "#ffffff"), 1) == 3.1  # the old muted text the issue measured


def test_the_pairs_cover_muted_text_and_chips():
    wheres = {where for where, *_ in text_pairs()}
    assert {"app.css .faint", "app.css .badge-muted", "app.css .chip", "app.css .tl-time", "app.css .muted"} <= wheres


@pytest.mark.parametrize("where, fg, bg_name, bg", text_pairs())
def test_every_text_colour_on_its_background_meets_aa(where, fg, bg_name, bg):
    ratio = contrast(fg, bg)
    assert ratio >= AA, f"{where}: {fg} on {bg_name} ({bg}) is {ratio:.2f}:1, below {AA}:1"
