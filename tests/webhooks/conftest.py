"""A real local HTTP receiver (a threaded http.server) that checks each request's signature with
the README's verification snippet, executed verbatim, and Django pointed at it."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.nurture.conftest import smtp_server, smtp_sink  # noqa: F401 - the real SMTP sink, for the disable email

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "whsec_test_0123456789abcdef"


def readme_snippet() -> str:
    """The Python block after the `<!-- webhook-verify -->` marker in README.md."""
    match = re.search(r"<!-- webhook-verify -->\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert match, "README.md has no verification snippet after <!-- webhook-verify -->"
    return match.group(1)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    def json(self) -> dict:
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    base: str
    secret: str = SECRET
    requests: list[Request] = field(default_factory=list)
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> how many 500s before a 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver(settings):
    namespace: dict = {}
    exec(readme_snippet(), namespace)
    verify = namespace["verify"]
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            rec = holder["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signature = self.headers.get("X-Saring-Signature", "")
            with rec.lock:
                rec.requests.append(Request(self.path, dict(self.headers), body,
                                            bool(signature) and verify(rec.secret, signature, body)))
                failing = rec.fail_first.get(self.path, 0)
                if failing:
                    rec.fail_first[self.path] = failing - 1
            try:
                if self.path == "/slow":
                    time.sleep(3)
                    self._answer(200, b"late")
                elif self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", rec.url("/hook"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path == "/big":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10 * 1024 * 1024))
                    self.end_headers()
                    chunk = b"x" * 65536
                    for _ in range(160):
                        self.wfile.write(chunk)
                elif self.path == "/error" or failing:
                    self._answer(500, b"receiver broke")
                else:
                    self._answer(200, b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender stopped reading, as it should

        def _answer(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 64  # the sender opens up to 8 connections at once

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    holder["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    settings.CRM_WEBHOOK_ALLOW_PRIVATE = True
    settings.CRM_WEBHOOK_TIMEOUT = 1.0
    try:
        yield holder["r"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _fresh_subscriptions():
    from django.core.cache import cache

    from webhooks.outbox import SUBSCRIPTIONS_KEY

    cache.delete(SUBSCRIPTIONS_KEY)
    yield
    cache.delete(SUBSCRIPTIONS_KEY)


@pytest.fixture
def endpoint(receiver, admin, on_commit):
    """An endpoint subscribed to every event, registered through the service."""
    from webhooks.models import EventType
    from webhooks.services import endpoint_save

    def make(path: str = "/hook", events=None, **data):
        with on_commit():
            saved, _secret = endpoint_save(data={"url": receiver.url(path), "secret": SECRET,
                                                 "events": events or list(EventType.values), **data}, by=admin)
        return saved

    return make
