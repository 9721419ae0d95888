"""The API's rate limits count in windows (crm.throttles): O(1) per request whatever the rate,
atomic under concurrent requests, and still a sliding limit: the previous window counts in
proportion to how much of it the last `duration` seconds still cover."""

from __future__ import annotations

import pytest
from rest_framework.test import APIRequestFactory

from crm import throttles
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _throttle(clock, rate="4/min"):
    class Throttle(throttles.UserRateThrottle):
        THROTTLE_RATES = {"user": rate}
        timer = clock

    return Throttle()


def _request(user):
    request = APIRequestFactory().get("/api/contacts/")
    request.user = user
    return request


def test_the_limit_holds_then_the_next_window_weighs_the_last(admin):
    clock = Clock(6_000_000.0)  # the start of a one-minute window
    request = _request(admin)
    assert [_throttle(clock).allow_request(request, None) for _ in range(5)] == [True] * 4 + [False]

    refused = _throttle(clock)
    assert not refused.allow_request(request, None)
    assert 1 <= refused.wait() <= 60  # Retry-After: when the window ends

    clock.now += 60 + 15  # a quarter into the next window: 3/4 of the last one's 4 still count (3)
    assert [_throttle(clock).allow_request(request, None) for _ in range(2)] == [True, False]

    clock.now += 30  # three quarters in: 1/4 of 4 = 1, plus the 1 counted this window
    assert [_throttle(clock).allow_request(request, None) for _ in range(3)] == [True, True, False]

    clock.now += 120  # two windows later nothing counts
    assert [_throttle(clock).allow_request(request, None) for _ in range(5)] == [True] * 4 + [False]


def test_refused_requests_are_not_counted(admin):
    clock = Clock(6_000_000.0)
    request = _request(admin)
    for _ in range(4):
        assert _throttle(clock).allow_request(request, None)
    for _ in range(20):  # a client hammering while refused...
        assert not _throttle(clock).allow_request(request, None)
    clock.now += 60 + 45  # ...is allowed again as soon as the sliding window has room: 4 × 1/4 = 1 counted
    assert [_throttle(clock).allow_request(request, None) for _ in range(4)] == [True, True, True, False]


def test_users_are_counted_apart(admin, marketer):
    clock = Clock(6_000_000.0)
    for _ in range(4):
        assert _throttle(clock).allow_request(_request(admin), None)
    assert not _throttle(clock).allow_request(_request(admin), None)
    assert _throttle(clock).allow_request(_request(marketer), None)


def test_the_api_answers_429_with_retry_after(api_for, admin, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "2/hour"})
    client = api_for(admin)
    statuses = [client.get("/api/interaction-kinds/") for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert 0 < int(statuses[2]["Retry-After"]) <= 3600


def test_concurrent_requests_each_get_their_own_count():
    """The count is one atomic increment in the cache (INCR on Redis, the cache's lock in local memory):
    requests at once, the window's first ones included (they race to add the key), never share a count."""
    import threading

    threads, calls = 8, 40
    barrier, seen, errors = threading.Barrier(threads), [], []

    def requests() -> None:
        try:
            barrier.wait()
            seen.extend(throttles.window_counts("throttle_race", 100_000, ttl=120)[0] for _ in range(calls))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))

    workers = [threading.Thread(target=requests) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sorted(seen) == list(range(1, threads * calls + 1))
    assert throttles.window_counts("throttle_race", 100_001, ttl=120) == (1, threads * calls)


@pytest.mark.redis
def test_a_window_key_expires_two_windows_after_its_first_request(settings):
    """On Redis the window's key is added with its expiry (SET NX EX) and later requests only INCR it."""
    if not settings.REDIS_URL:
        skip_or_fail("the embedded default has no Redis; set REDIS_URL")
    import redis
    from django.core.cache import cache

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    for _ in range(3):
        throttles.window_counts("throttle_ttl", 7, ttl=120)
    key = cache.make_and_validate_key("throttle_ttl:7")
    assert int(client.get(key)) == 3
    assert 110 <= client.ttl(key) <= 120


def test_requests_are_allowed_when_redis_is_down(admin, monkeypatch):
    """crm.cache answers for a Redis that refuses connections: nothing is counted, nothing is refused."""
    from crm.cache import DegradingRedisCache

    down = DegradingRedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})
    monkeypatch.setattr(throttles, "cache", down)
    clock = Clock(6_000_000.0)
    assert all(_throttle(clock).allow_request(_request(admin), None) for _ in range(10))


@pytest.mark.redis
def test_the_redis_cache_increments_in_one_step_as_django_defines_it(settings):
    """crm.cache's incr() is one script instead of Django's EXISTS then INCR, with Django's contract: a
    missing key raises ValueError and is not made; an existing one is added to and keeps its expiry."""
    if not settings.REDIS_URL:
        skip_or_fail("the embedded default has no Redis; set REDIS_URL")
    import redis
    from django.core.cache import cache

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    with pytest.raises(ValueError):
        cache.incr("incr_missing")
    assert not client.exists(cache.make_and_validate_key("incr_missing"))
    cache.set("incr_counted", 5, 60)
    assert cache.incr("incr_counted") == 6 and cache.decr("incr_counted", 2) == 4 and cache.get("incr_counted") == 4
    assert 50 <= client.ttl(cache.make_and_validate_key("incr_counted")) <= 60
