"""The API's rate limits count in windows (crm.throttles): O(1) per request whatever the rate,
atomic under concurrent requests, and still a sliding limit: the previous window counts in
proportion to how much of it the last `duration` seconds still cover."""

from __future__ import annotations

import pytest
from rest_framework.test import APIRequestFactory

from crm import throttles

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
