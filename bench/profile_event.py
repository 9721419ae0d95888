"""CPU per step of one POST /api/interactions/ (figure 10's request), in-process: token lookup,
throttle, checks, insert, mark and wake-up, audit row, and the whole request through every
middleware (Django's test client). process_time per call, so other load inflates it less than
wall time. Not part of `make bench`; docs/performance.md quotes it (round two, session five).

    DATABASE_URL=postgres://.../crm_bench REDIS_URL=redis://127.0.0.1:6379/15 DJANGO_DEBUG=0 \\
    DJANGO_SECRET_KEY=... DJANGO_ALLOWED_HOSTS=testserver DJANGO_SECURE_SSL_REDIRECT=0 \\
    CELERY_TASK_DEFAULT_QUEUE=bench-profile python -m bench.profile_event

on a bench database (its API user `bench-api`). It writes interactions (sources "steps" and
"load") and queues wake-ups on CELERY_TASK_DEFAULT_QUEUE: purge that queue after."""

from __future__ import annotations

import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework import throttling  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

from contacts import services  # noqa: E402
from contacts.api import checks  # noqa: E402
from contacts.models import Contact  # noqa: E402
from crm import roles, throttles, tokens  # noqa: E402
from crm.audit import audit  # noqa: E402
from scoring.tasks import pending_wake  # noqa: E402

N = int(os.environ.get("N", 300))


def cpu(label: str, fn, n: int = N) -> None:
    for _ in range(10):
        fn()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    print(f"{label:60s} cpu {1000 * (time.process_time() - c0) / n:6.2f} ms   wall {1000 * (time.perf_counter() - t0) / n:6.2f} ms")


def main() -> None:
    token = Token.objects.filter(user__username="bench-api").first() or Token.objects.first()
    key, user = token.key, token.user
    contact_ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True)[:64])
    tag = f"s{int(time.time())}"
    counter = [0]

    auth = tokens.ExpiringTokenAuthentication()

    def token_db() -> None:
        found, _token = super(tokens.ExpiringTokenAuthentication, auth).authenticate_credentials(key)
        roles.roles_of(found)

    cpu("token + roles from PostgreSQL (before)", token_db)
    cpu("token + roles from the cache (after)", lambda: auth.authenticate_credentials(key))

    def throttle(cls, history: int):
        class Throttle(cls):
            THROTTLE_RATES = {"user": "1000000/min"}

        request = Request(APIRequestFactory().post("/api/interactions/"))
        request.user = user
        if history and cls is throttling.UserRateThrottle:
            cache.set(Throttle().cache_format % {"scope": "user", "ident": user.pk}, [time.time()] * history, 60)
        return lambda: Throttle().allow_request(request, None)

    for history in (0, 6000, 15000):
        cpu(f"DRF throttle, {history} requests in the last minute (before)", throttle(throttling.UserRateThrottle, history))
    cpu("window-counter throttle (after)", throttle(throttles.UserRateThrottle, 0))
    item = {"contact": contact_ids[0], "kind": "page_viewed", "source": "load", "external_id": "x"}
    cpu("events_resolve (contact and kind checks)", lambda: checks.events_resolve([(0, item)], user=user, batch=False))

    def log(**kwargs):
        def run() -> None:
            counter[0] += 1
            with transaction.atomic():
                services.interaction_log(contact=Contact(pk=contact_ids[0]), kind="page_viewed", source="steps",
                                         external_id=f"{tag}-{counter[0]}", **kwargs)
        return run

    cpu("insert only: interaction_log(rescore=False, audited=False)", log(rescore=False, audited=False))
    cpu("insert + mark (+ wake after commit)", log(audited=False))
    cpu("insert + mark + wake + audit row (by=user)", log(by=user))
    cpu("wake-up alone (pending_wake: one SET NX)", pending_wake)
    cpu("audit row alone", lambda: audit(user, "change", Contact(pk=contact_ids[0]), fields=["interactions"], interaction=1, source="x"))
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")

    def whole() -> None:
        counter[0] += 1
        payload = {"contact": contact_ids[counter[0] % len(contact_ids)], "kind": "page_viewed", "source": "load",
                   "external_id": f"{tag}-w{counter[0]}"}
        response = client.post("/api/interactions/", payload, content_type="application/json")
        assert response.status_code == 201, response.content

    cpu("whole request (test client, all middleware)", whole)
    print("load average", os.getloadavg())


if __name__ == "__main__":
    main()
