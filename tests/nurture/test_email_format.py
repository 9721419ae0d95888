"""nurture.email writes the common email out directly (Python's generator was most of a campaign's
CPU); what it writes must mean exactly what Django's own message() means, and anything unusual must
go through Django's."""

from __future__ import annotations

import email
import email.policy

import pytest
from django.core.mail import EmailMultiAlternatives

from nurture import email as mail

CASES = {
    "ascii": ("Budi, 5 pertanyaan", "Halo Budi,\n\nBaca: https://example.com/a\n", "<p>Halo Budi,</p>"),
    "utf-8 body": ("Undangan webinar", "Halo André — sampai jumpa ☺\n\n.\nFrom the team", "<p>André ☺</p>\n"),
    "no final newline": ("Subjek", "satu baris", "<p>satu</p>"),
    "utf-8 subject": ("Halo André", "Isi", "<p>Isi</p>"),
    "long line": ("Subjek", "x" * 1200, "<p>" + "y" * 1100 + "</p>"),
    "display name": ("Subjek", "Isi", "<p>Isi</p>"),
}


def _email(subject: str, text: str, html: str, *, to: str = "budi@example.co.id") -> EmailMultiAlternatives:
    content = mail.Content(subject=subject, text=text, html=html, unsubscribe="https://crm.example.co.id/u/" + "T" * 90 + "/")
    return mail.build(content=content, to=to, delivery_id=7, from_email="Tim Saring <tim@saring.example>")


def _meaning(raw: bytes) -> tuple:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    headers = sorted((k, str(v).strip()) for k, v in parsed.items() if k not in ("Date", "Message-ID", "Content-Type"))
    parts = [(p.get_content_type(), p.get_content_charset(), p.get_content()) for p in parsed.iter_parts()]
    return parsed.get_content_type(), headers, parts


@pytest.mark.parametrize("case", CASES)
def test_the_direct_form_means_what_djangos_means(case, settings):
    settings.DEFAULT_CHARSET = "utf-8"
    to = "Budi Santoso <budi@example.co.id>" if case == "display name" else "budi@example.co.id"
    message = _email(*CASES[case], to=to)
    ours = message.message().as_bytes(linesep="\r\n")
    django = EmailMultiAlternatives.message(message).as_bytes(linesep="\r\n")
    assert _meaning(ours) == _meaning(django)
    assert all(len(line) <= 998 for line in ours.split(b"\r\n"))
    assert b"\n" not in ours.replace(b"\r\n", b"")
    direct = case in ("ascii", "utf-8 body", "no final newline")
    assert isinstance(message.message(), mail._Serialized) is direct, "only the common case is written directly"


def test_a_header_cannot_be_smuggled_in_through_the_subject():
    message = _email("Halo\r\nBcc: semua@example.com", "Isi", "<p>Isi</p>")
    from django.core.mail import BadHeaderError

    with pytest.raises(BadHeaderError):
        message.message()  # Django's own check, as before


ADDRESSES = ["budi@example.co.id", "A.B+tag@Example.COM", "o'brien@x.id", "x_y-z@sub.domain.id", "Budi <b@x.id>",
             "a@b@c.id", "andré@x.id", "budi @x.id", "b@x.id\n", "semua@x.id, b@y.id"]


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_passed_as_given_is_one_django_would_not_change(address):
    from django.core.mail.message import sanitize_address

    if mail._as_given(address):
        assert sanitize_address(address, "utf-8") == address
    else:
        assert address in ("Budi <b@x.id>", "a@b@c.id", "andré@x.id", "budi @x.id", "b@x.id\n", "semua@x.id, b@y.id")


@pytest.mark.django_db
def test_the_pools_send_delivers_what_djangos_backend_delivers(smtp_server):
    """send_open skips the backend's address parsing for plain addresses; the server must receive the
    same message as through EmailBackend.send_messages, and anything else goes through the backend."""
    from django.core.mail import get_connection

    cases = [("budi@example.co.id", "Tim Saring <tim@saring.example>"), ("Budi Santoso <budi@example.co.id>", "tim@saring.example")]
    connection = get_connection()
    connection.open()
    try:
        for to, sender in cases:
            content = mail.Content(subject="Subjek", text="Halo\n\nhttps://example.com/a", html="<p>Halo</p>",
                                   unsubscribe="https://crm.example.co.id/u/T/")
            mail.send_open(connection, mail.build(content=content, to=to, delivery_id=7, from_email=sender))
            connection.send_messages([mail.build(content=content, to=to, delivery_id=7, from_email=sender)])
    finally:
        connection.close()
    received = sorted((_meaning(m.as_bytes()) for m in smtp_server.messages()), key=repr)
    assert len(received) == 4
    assert received[0] == received[1] and received[2] == received[3]
