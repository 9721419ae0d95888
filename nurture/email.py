"""Building one email (text and HTML, tracked links, the open pixel, RFC 8058 unsubscribe headers)
and telling a temporary SMTP failure from a permanent one. Sending is Django's email backend,
configured from EMAIL_URL (crm.settings)."""

from __future__ import annotations

import smtplib
import socket
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
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


def build(*, content: Content, to: str, from_email: str | None = None, delivery_id: int) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
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


def classify(exc: Exception) -> Failure:
    """A 5xx answer about the recipient or the message is permanent (a bounce); a 4xx answer,
    a refused or dropped connection and a timeout are temporary (try again later)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        detail = "; ".join(f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                           for code, msg in exc.recipients.values())
        return Failure(permanent=bool(codes) and all(code >= 500 for code in codes), detail=detail[:300])
    if isinstance(exc, smtplib.SMTPResponseException):
        message = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return Failure(permanent=exc.smtp_code >= 500, detail=f"{exc.smtp_code} {message}"[:300])
    if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout)):
        return Failure(permanent=False, detail=f"{type(exc).__name__}: {exc}"[:300])
    raise exc
