"""The client's address, decided in one place for the API throttles, login lockout (axes) and
anything else that needs it.

Without a configured proxy count (`CRM_NUM_PROXIES`, DRF's NUM_PROXIES) it is the socket's
address, REMOTE_ADDR: X-Forwarded-For is written by whoever sends the request and is ignored.
Behind N reverse proxies it is the N-th address from the right of X-Forwarded-For (the one
the outermost trusted proxy saw), which is what DRF's throttles use too."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.settings import api_settings


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR") or ""
    proxies = api_settings.NUM_PROXIES or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") or ""
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if proxies <= 0 or not addresses:
        return remote
    return addresses[-min(proxies, len(addresses))]
