"""API fixtures: token-authenticated clients per role, a capture form, a clean throttle cache."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.cache import cache
from django.db import connection


@pytest.fixture(autouse=True)
def _english(settings):
    """Assertions read the English messages; clients that send no Accept-Language get Indonesian."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; one test's requests must not slow the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def catalog(db):
    from contacts.catalog import catalog_ensure

    catalog_ensure()


@pytest.fixture
def capture_form(db, catalog):
    from contacts.models import CaptureForm

    return CaptureForm.objects.create(
        name="Promo November", public_key="pk_promo_nov", allowed_origins=["https://promo.example.co.id"],
        thank_you_url="https://promo.example.co.id/terima-kasih", source="landing:promo-nov",
        consent_wording_version="2026-10", industry="",
    )




def _post_concurrently(client_factory, url: str, body, n: int = 2):
    """POST the same body from n threads released at once, each on its own DB connection.

    A client that gets a 5xx retries (that is what external_id is for). PostgreSQL never
    needs that (row locks and the unique index make one request wait for the other);
    SQLite's in-memory test database refuses a second writer outright ("table is locked"),
    which with eager Celery can also hit the scoring that runs right after the commit."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    retries = [0] * n

    def worker(index: int) -> None:
        try:
            client = client_factory()
            barrier.wait(timeout=10)
            for _attempt in range(20):
                results[index] = client.post(url, body, format="json")
                if results[index].status_code < 500:
                    break
                retries[index] += 1
                time.sleep(0.05)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if connection.vendor == "postgresql":
        assert retries == [0] * n
    return results


@pytest.fixture
def post_concurrently():
    return _post_concurrently
