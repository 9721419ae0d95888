"""Building one email (text and HTML, tracked links, the open pixel, RFC 8058 unsubscribe headers)
and telling a temporary SMTP failure from a permanent one. Sending is Django's email backend,
configured from EMAIL_URL (crm.settings)."""

from __future__ import annotations

import random
import smtplib
import socket
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate, make_msgid
from functools import lru_cache

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, sanitize_address
from django.core.mail.utils import DNS_NAME
from django.utils.html import escape

from nurture import links, rendering


@dataclass(frozen=True)
class Content:
    subject: str
    text: str
    html: str
    unsubscribe: str


def compose(*, delivery_id: int, subject: str, body: str, values: dict[str, str]) -> Content:
    """Render the template, route every link through the click tracker (the unsubscribe link
    excepted), and build the HTML part with the open pixel."""
    unsubscribe = links.unsubscribe_url(delivery_id)
    sentinel = f"\x00unsubscribe-{delivery_id}\x00"
    text = rendering.render(body, {**values, "unsubscribe_url": sentinel})
    text = rendering.URL.sub(lambda m: links.click_url(delivery_id, m.group()), text).replace(sentinel, unsubscribe)
    subject = " ".join(rendering.render(subject, {**values, "unsubscribe_url": ""}).split())

    def linked(part: str) -> str:
        return rendering.URL.sub(lambda m: f'<a href="{m.group()}">{m.group()}</a>', escape(part))

    paragraphs = "".join(f"<p>{linked(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n") if p.strip())
    pixel = f'<img src="{escape(links.open_url(delivery_id))}" width="1" height="1" alt="">'
    return Content(subject, text, f"<!doctype html><html><body>{paragraphs}{pixel}</body></html>", unsubscribe)


class _Serialized(Message):
    """A message already written out as bytes (what every Django email backend asks of message())."""

    def __init__(self, lines: list[str]):
        super().__init__()
        self._lines = lines

    def as_bytes(self, unixfrom: bool = False, policy=None, linesep: str = "\n") -> bytes:
        return linesep.join(self._lines).encode()

    def as_string(self, unixfrom: bool = False, maxheaderlen: int = 0, policy=None) -> str:
        return "\n".join(self._lines)

    def get_charset(self):
        return None


@lru_cache(maxsize=64)
def _sanitized(address: str, encoding: str) -> str:
    """sanitize_address, once per sender address and process."""
    return sanitize_address(address, encoding)


_OWN_HEADERS = {"from", "to", "cc", "reply-to", "subject", "date", "message-id", "content-type", "mime-version"}


def _plain_address(address: str) -> bool:
    return address.isascii() and not any(c in address for c in ' <>",;()\t\r\n')


def _plain_header(value: str) -> bool:
    return value.isascii() and "\r" not in value and "\n" not in value and len(value) < 900


def _plain_body(text: str) -> bool:
    return "\r" not in text and all(len(line.encode()) <= RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in text.split("\n"))


class TrackedEmail(EmailMultiAlternatives):
    """Our emails, written out directly when they are the common case: plain ASCII headers and body
    lines under the line limit (a text and an HTML part, 7bit or 8bit UTF-8). Python's email generator
    took ~0.5 ms a message, folding every header, most of a campaign's CPU. Anything else (a non-ASCII
    subject or address, a very long line) goes through Django's own message() unchanged."""

    def message(self) -> Message:
        headers = {"Subject": self.subject, "From": self.from_email, "To": ", ".join(self.to), **self.extra_headers}
        html = self.alternatives[0].content if len(self.alternatives) == 1 else None
        if (self.cc or self.bcc or self.reply_to or self.attachments or html is None
                or self.alternatives[0].mimetype != "text/html" or (self.encoding or settings.DEFAULT_CHARSET) != "utf-8"
                or any(name.lower() in _OWN_HEADERS for name in self.extra_headers) or not all(map(_plain_address, self.to))
                or not all(_plain_header(v) for v in headers.values()) or not _plain_body(self.body) or not _plain_body(html)):
            return super().message()
        boundary = f"==============={random.randrange(10 ** 19):019d}=="
        lines = [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0",
                 f"Subject: {self.subject}", f"From: {_sanitized(self.from_email, settings.DEFAULT_CHARSET)}", f"To: {headers['To']}",
                 f"Date: {formatdate(localtime=settings.EMAIL_USE_LOCALTIME)}", f"Message-ID: {make_msgid(domain=DNS_NAME)}"]
        lines += [f"{name}: {value}" for name, value in self.extra_headers.items()]
        lines.append("")
        for subtype, text in (("plain", self.body), ("html", html)):  # the line break before a boundary is the boundary's
            lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"', "MIME-Version: 1.0",
                      f"Content-Transfer-Encoding: {'7bit' if text.isascii() else '8bit'}", "", *text.split("\n")]
        lines += [f"--{boundary}--", ""]
        return _Serialized(lines)


def _as_given(address: str) -> bool:
    """An address Django's sanitize_address returns unchanged: one plain ASCII local@domain."""
    return _plain_address(address) and address.count("@") == 1


def send_open(connection, email: EmailMultiAlternatives) -> None:
    """Send one email over an open connection of Django's SMTP backend. Our own emails with plain
    addresses skip the backend's address parsing (sanitize_address through the email package's header
    parser: ~90 µs an address, more than writing the whole message); the sender's is parsed once per
    process. Same bytes, same smtplib call and exceptions as EmailBackend._send. Anything else, or
    another backend, goes through send_messages unchanged."""
    smtp = getattr(connection, "connection", None)
    if (isinstance(email, TrackedEmail) and isinstance(smtp, smtplib.SMTP) and not (email.cc or email.bcc)
            and email.to and all(map(_as_given, email.to))):
        sender = _sanitized(email.from_email, email.encoding or settings.DEFAULT_CHARSET)
        smtp.sendmail(sender, list(email.to), email.message().as_bytes(linesep="\r\n"))
    else:
        connection.send_messages([email])


def build(*, content: Content, to: str, from_email: str | None = None, delivery_id: int) -> EmailMultiAlternatives:
    email = TrackedEmail(
        subject=content.subject, body=content.text, from_email=from_email or settings.CRM_EMAIL_FROM, to=[to],
        headers={
            "List-Unsubscribe": f"<{content.unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Saring-Delivery": str(delivery_id),
        },
    )
    email.attach_alternative(content.html, "text/html")
    return email


@dataclass(frozen=True)
class Failure:
    permanent: bool
    detail: str
    unknown: bool = False  # the connection failed after the message went out: it may have been delivered


def went_out(exc: BaseException) -> bool:
    """True when smtplib had already sent the message's content (inside SMTP.data, after the server's
    354) when the connection timed out or dropped: only the final answer was missing."""
    while exc is not None:  # and what it interrupted: closing the connection after a timeout can time out too
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code is smtplib.SMTP.data.__code__ and "q" in tb.tb_frame.f_locals:
                return True
            tb = tb.tb_next
        exc = exc.__context__
    return False


def classify(exc: Exception) -> Failure:
    """A 5xx answer about the recipient or the message is permanent (a bounce); a 4xx answer,
    a refused or dropped connection and a timeout are temporary (try again later), except a
    timeout or drop after the content was sent: the server may have taken it, and sending it
    again could make a duplicate, so that one is `unknown` (never retried)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        detail = "; ".join(f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                           for code, msg in exc.recipients.values())
        return Failure(permanent=bool(codes) and all(code >= 500 for code in codes), detail=detail[:300])
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return Failure(permanent=exc.smtp_code >= 500, detail=f"{exc.smtp_code} {message}"[:300])
    if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout)):
        return Failure(permanent=False, detail=f"{type(exc).__name__}: {exc}"[:300],
                       unknown=went_out(exc))
    raise exc
