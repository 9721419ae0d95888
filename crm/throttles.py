"""API throttles that cost the same at any rate.

DRF's throttles keep the time of every allowed request in one cached list, read and written
back whole on each request: at 6,000/min that is up to 6,000 floats unpickled, trimmed and
pickled again per request (O(rate) CPU and bytes), and two requests at once each write back
their own copy, so counts are lost. These count requests per fixed window of the rate's
duration instead and weigh the previous window by how much of it the sliding window still
covers (a "sliding window counter"): O(1), one Redis round trip (INCR, EXPIRE, GET in a
pipeline), and INCR is atomic. Refused requests are not counted, as in DRF. When Redis fails,
requests are allowed (crm.cache degrades the same way)."""

from __future__ import annotations

import logging
import math

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import throttling

log = logging.getLogger(__name__)


def window_counts(key: str, window: int, ttl: int) -> tuple[int, int]:
    """Count one request in `window`; return (this window's count, the previous window's)."""
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is None:  # the embedded default's local memory cache
        return _counts_generic(f"{key}:{window}", f"{key}:{window - 1}", ttl)
    current, previous = cache.make_and_validate_key(f"{key}:{window}"), cache.make_and_validate_key(f"{key}:{window - 1}")
    try:
        pipe = client_of(write=True).pipeline(transaction=False)
        pipe.incr(current)
        pipe.expire(current, ttl)
        pipe.get(previous)
        count, _, before = pipe.execute()
    except RedisError as exc:
        log.warning("Cache unavailable (%s) in a throttle; allowing the request.", type(exc).__name__)
        return 0, 0
    return int(count), int(before or 0)


def _counts_generic(current: str, previous: str, ttl: int) -> tuple[int, int]:
    cache.add(current, 0, ttl)
    try:
        count = cache.incr(current)
    except ValueError:  # expired between add and incr
        cache.set(current, 1, ttl)
        count = 1
    return int(count), int(cache.get(previous) or 0)


def _uncount(key: str, window: int) -> None:
    try:
        cache.decr(f"{key}:{window}")
    except (ValueError, RedisError):
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
