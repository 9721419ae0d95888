"""API throttles that cost the same at any rate.

DRF's throttles keep the time of every allowed request in one cached list, read and written
back whole on each request: at 6,000/min that is up to 6,000 floats unpickled, trimmed and
pickled again per request (O(rate) CPU and bytes), and two requests at once each write back
their own copy, so counts are lost. These count requests per fixed window of the rate's
duration instead and weigh the previous window by how much of it the sliding window still
covers (a "sliding window counter"): O(1), and the count is an atomic increment in the
cache (INCR on Redis; under the cache's lock in local memory). Refused requests are not counted,
as in DRF. Only the public cache API is used, so any backend works; when Redis fails, crm.cache
answers as if nothing were counted, and requests are allowed."""

from __future__ import annotations

import math

from django.core.cache import cache
from rest_framework import throttling


def window_counts(key: str, window: int, ttl: int) -> tuple[int, int]:
    """Count one request in `window`; return (this window's count, the previous window's).

    Two round trips on Redis: the increment (crm.cache makes Django's incr() one atomic script, INCR
    if the key exists) and a GET of the previous window; the window's first request adds the key with
    its expiry instead (SET NX EX, a third). A window's key lives `ttl` (two windows) from its first
    request, so it outlives every request that counts in it and is still there as the next window's
    "previous"."""
    current = f"{key}:{window}"
    try:
        count = cache.incr(current)
    except ValueError:  # the window's first request (or an evicted key)
        if cache.add(current, 1, ttl):
            count = 1
        else:  # another request added it in between
            count = _incr_or_start(current, ttl)
    return int(count), int(cache.get(f"{key}:{window - 1}") or 0)


def _incr_or_start(current: str, ttl: int) -> int:
    try:
        return cache.incr(current)
    except ValueError:  # gone again at once (evicted under memory pressure): start the count
        cache.set(current, 1, ttl)
        return 1


def _uncount(key: str, window: int) -> None:
    try:
        cache.decr(f"{key}:{window}")
    except ValueError:  # expired or evicted: nothing left to take back
        pass


class WindowCounterMixin:
    """For a SimpleRateThrottle subclass: replaces allow_request and wait (see the module)."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        count, before = window_counts(self.key, window, ttl=2 * self.duration)
        into = (now - window * self.duration) / self.duration  # 0..1 through the current window
        if before * (1 - into) + count <= self.num_requests:
            return True
        _uncount(self.key, window)
        # Wait until the previous window's weight has fallen enough for one more request, or
        # this window ends (the next one starts with this one's count as its "previous").
        allowed = self.num_requests - (count - 1)
        if before > 0 and allowed > 0:
            self.wait_seconds = max(0.0, (1 - allowed / before) - into) * self.duration
        else:
            self.wait_seconds = (1 - into) * self.duration
        self.wait_seconds = max(1.0, math.ceil(self.wait_seconds))
        return False

    def wait(self) -> float | None:
        return getattr(self, "wait_seconds", None)


class UserRateThrottle(WindowCounterMixin, throttling.UserRateThrottle):
    """DRF's per-user (per-address for anonymous) rate "user", counted in windows."""


class AnonRateThrottle(WindowCounterMixin, throttling.AnonRateThrottle):
    """DRF's per-address rate "anon" for anonymous requests, counted in windows."""
