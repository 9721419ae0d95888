"""Signed links in emails: tracked clicks, the open pixel and one-click unsubscribe. Each token is
signed (HMAC with the secret key, a salt per purpose), so a link only ever redirects to a URL that
was in a message we sent: no open redirect, no guessing another person's unsubscribe link."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

CLICK, OPEN, UNSUBSCRIBE = "nurture.click", "nurture.open", "nurture.unsubscribe"


@dataclass(frozen=True)
class Click:
    delivery_id: int
    url: str


def _absolute(path: str) -> str:
    return settings.CRM_BASE_URL + path


def click_url(delivery_id: int, url: str) -> str:
    token = signing.dumps([delivery_id, url], salt=CLICK, compress=True)
    return _absolute(reverse("nurture:click", args=[token]))


def open_url(delivery_id: int) -> str:
    return _absolute(reverse("nurture:open", args=[signing.dumps(delivery_id, salt=OPEN)]))


def unsubscribe_url(delivery_id: int) -> str:
    return _absolute(reverse("nurture:unsubscribe", args=[signing.dumps(delivery_id, salt=UNSUBSCRIBE)]))


def read_click(token: str) -> Click | None:
    try:
        delivery_id, url = signing.loads(token, salt=CLICK)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return Click(int(delivery_id), str(url))


def read_delivery(token: str, salt: str) -> int | None:
    try:
        return int(signing.loads(token, salt=salt))
    except (signing.BadSignature, ValueError, TypeError):
        return None
