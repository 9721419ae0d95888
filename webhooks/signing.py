"""The signature scheme, as Stripe does it: X-Saring-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256(secret, "<t>.<raw body>")>. The timestamp lets receivers refuse old replays."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

HEADER = "X-Saring-Signature"


def body(*, event_id: str, type: str, created_at: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"id": event_id, "type": type, "created_at": created_at, "data": data},
                      separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"
