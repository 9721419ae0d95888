"""The client's address, decided in one place for the API throttles, login lockout (axes) and
anything else that needs it.

Without a configured proxy count (`CRM_NUM_PROXIES`, DRF's NUM_PROXIES) it is the socket's
address, REMOTE_ADDR: X-Forwarded-For is written by whoever sends the request and is ignored.
Behind N reverse proxies it is the N-th address from the right of X-Forwarded-For (the one
the outermost trusted proxy saw), which is what DRF's throttles use too."""

from __future__ import annotations

import ipaddress
import socket

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


# --- Outbound requests (webhooks): where we may connect ---------------------------------

class AddressRefused(ValueError):
    """A host that resolves to an address we must not connect to, or does not resolve at all."""


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # Never, whatever the setting: link-local (169.254.169.254 is the cloud metadata service),
    # multicast, unspecified and reserved ranges are no place for a webhook.
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return True
    if allow_private:
        return False
    return ip.is_loopback or ip.is_private or not ip.is_global


def public_address(host: str, port: int, *, allow_private: bool = False) -> str:
    """Resolve `host` and return one address to connect to, or raise AddressRefused when any
    address it resolves to is private, loopback, link-local, multicast or reserved (unless
    `allow_private`, which still refuses link-local, multicast and reserved). The caller
    connects to the returned address itself, so a second lookup (DNS rebinding) cannot
    send it elsewhere."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"cannot resolve {host}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise AddressRefused(f"cannot resolve {host}")
    for address in addresses:
        if _refused(ipaddress.ip_address(address.split("%")[0]), allow_private):
            raise AddressRefused(f"{host} resolves to {address}, a private or reserved address")
    return addresses[0]
