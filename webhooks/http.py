"""One POST to a receiver, safely: the host is resolved and checked (crm.net.public_address)
and the connection goes to that checked address (no second lookup), redirects are not
followed (a redirect is a failure), every socket operation has a timeout, the whole request
a deadline, and at most RESPONSE_CAP bytes of the answer are read."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext_noop

from crm.net import AddressRefused, public_address

RESPONSE_CAP = 64 * 1024
EXCERPT = 500


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    excerpt: str
    error: str  # technical detail, as the API shows it (English, like the receiver's own answer)
    duration_ms: int
    # What went wrong as a msgid and parameters (crm.texts), so the delivery log reads in the viewer's language.
    message: str = ""
    params: dict | None = None


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((address, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does: no Nagle delay
    return sock


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # certificate checked for the name


def check_url(url: str, *, allow_private: bool) -> str:
    """The address to connect to for `url`, or AddressRefused / ValueError saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("only http and https URLs with a host")
    if parts.username or parts.password:
        raise ValueError("no user name or password in the URL")
    return public_address(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                          allow_private=allow_private)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> Outcome:
    started = time.monotonic()

    def done(ok: bool, status: int | None, excerpt: str = "", error: str = "", message: str = "",
             **params: object) -> Outcome:
        return Outcome(ok, status, excerpt[:EXCERPT], error[:300], int((time.monotonic() - started) * 1000),
                       message, params)

    try:
        address = check_url(url, allow_private=allow_private)
    except (AddressRefused, ValueError) as exc:
        return done(False, None, error=f"refused: {exc}",
                    message=gettext_noop("Not sent: the receiver's address is not allowed."))
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    conn = cls(parts.hostname, port, address, timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = started + timeout
    try:
        conn.request("POST", target, body=body, headers={"Content-Type": "application/json", "User-Agent": "Saring-Webhooks/1",
                                                         **headers})
        response = conn.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size < RESPONSE_CAP and time.monotonic() < deadline:
            chunk = response.read1(RESPONSE_CAP - size) if hasattr(response, "read1") else response.read(RESPONSE_CAP - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        excerpt = b"".join(chunks)[:EXCERPT].decode("utf-8", errors="replace")
        code = response.status
        if 200 <= code < 300:
            return done(True, code, excerpt)
        if 300 <= code < 400:
            location = response.getheader("Location", "")[:200]
            return done(False, code, excerpt, error=f"redirect to {location} (not followed)",
                        message=gettext_noop("The receiver redirected to %(location)s; redirects are not followed."),
                        location=location)
        return done(False, code, excerpt, error=f"HTTP {code}",
                    message=gettext_noop("The receiver answered HTTP %(code)s."), code=code)
    except TimeoutError as exc:  # socket.timeout is TimeoutError since Python 3.10
        return done(False, None, error=f"{type(exc).__name__}: {exc}",
                    message=gettext_noop("No answer within %(seconds)s seconds."), seconds=f"{timeout:g}")
    except (OSError, http.client.HTTPException) as exc:
        return done(False, None, error=f"{type(exc).__name__}: {exc}",
                    message=gettext_noop("Could not connect to the receiver or send the event."))
    finally:
        conn.close()
