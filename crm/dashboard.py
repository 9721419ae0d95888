"""The home dashboard's panels, briefly cached on big installations, and kept warm.

On big tables the panels cost seconds (GROUP BYs over every contact, a sort of the stage
history for the medians; docs/performance.md), so they are cached for a short
while. A beat job recomputes the unfiltered dashboard, the one most people open, in each
language every minute, so nobody waits for it. Small installations always get fresh
numbers; the follow-up queue is never cached (crm.views)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.utils import translation
from django.utils.translation import get_language

from crm.dashboard_cache import GENERATION_KEY
from scoring import analytics

CACHE_ABOVE_CONTACTS = 50_000
CACHE_SECONDS = 120


def is_cached() -> bool:
    return analytics.estimated_contacts() >= CACHE_ABOVE_CONTACTS


def _cache_key(filters: dict) -> str:
    plain = sorted((k, str(getattr(v, "pk", v))) for k, v in filters.items())
    generation = cache.get(GENERATION_KEY, 0)
    digest = hashlib.sha256(repr((plain, get_language(), generation)).encode()).hexdigest()[:24]
    return f"dashboard:{digest}"


def panels(filters: dict) -> tuple[dict, bool]:
    """The panels for these filters (scoring.analytics keyword arguments), and whether they
    come through the cache."""
    if not is_cached():
        return analytics.dashboard(**filters), False
    return cache.get_or_set(_cache_key(filters), lambda: analytics.dashboard(**filters), CACHE_SECONDS), True


def warm() -> int:
    """Recompute the unfiltered panels in every language; returns how many entries were stored."""
    if not is_cached():
        return 0
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            cache.set(_cache_key({}), analytics.dashboard(), CACHE_SECONDS)
    return len(settings.LANGUAGES)
