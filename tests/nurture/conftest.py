"""A real SMTP server process for the nurture tests, and Django pointed at it."""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

SINK = Path(__file__).with_name("smtp_sink.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SmtpServer:
    port: int
    maildir: Path

    def messages(self) -> list[email.message.EmailMessage]:
        box = mailbox.Maildir(self.maildir, create=False)
        return [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in box]


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory):
    """The SMTP server process, started once per test process (a start costs a Python and aiosmtpd
    import); smtp_server empties its Maildir for each test."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        skip_or_fail("aiosmtpd is not installed (requirements-dev.txt)")
    port, maildir = _free_port(), tmp_path_factory.mktemp("smtp") / "maildir"
    process = subprocess.Popen([sys.executable, str(SINK), str(port), str(maildir)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        ready = process.stdout.readline().strip()
        assert ready == "ready", process.stderr.read()
        yield SmtpServer(port, maildir)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def smtp_server(smtp_sink, settings):
    assert smtp_sink.maildir.exists(), "the SMTP server process has stopped"
    for sub in ("new", "cur", "tmp"):  # what earlier tests were sent
        for path in (smtp_sink.maildir / sub).iterdir():
            path.unlink()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.CRM_BASE_URL = "https://crm.example.co.id"
    return smtp_sink


@pytest.fixture
def no_smtp_server(settings):
    """Django pointed at a port where nothing listens: the SMTP server is down."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


@pytest.fixture
def library(db, reference_data):
    """The starter content library."""
    from nurture.services import starter_library_load

    starter_library_load()


@pytest.fixture
def message(library):
    from nurture.models import Message

    return lambda key: Message.objects.get(starter_key=key)


@pytest.fixture
def person(make_contact):
    """A contact in a given stage (pinned, so scoring leaves it there), opted in to email by default."""
    from contacts.models import Contact

    def make(stage: str = "lead", **fields):
        pinned_fields = {"consent_email": True, **fields}
        contact = make_contact(**pinned_fields)
        Contact.objects.filter(pk=contact.pk).update(stage=stage, stage_pinned=True)
        contact.refresh_from_db()
        return contact

    return make
