"""No secrets or personal data in the logs: run the capture → interaction → note → login
→ access/erase flows with every log record captured, then look for the values."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from contacts.models import CaptureForm, Contact

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls_full")]

EMAIL = "rahasia.pelanggan@example.co.id"
PHONE_RAW = "0813-9876-5432"
PHONE = "+6281398765432"
NAME = "Kartika Sari Dewanti"
COMPANY = "PT Rahasia Abadi"
PASSWORD_TRIED = "Tebakan-Salah-99!"


def _record_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text + " " + repr(getattr(record, "args", ""))


def test_flows_log_no_personal_data_or_secrets(caplog, settings, admin, marketer, playbooks):
    settings.AXES_ENABLED = True
    caplog.set_level(logging.DEBUG)
    token = Token.objects.create(user=admin).key
    form = CaptureForm.objects.create(name="Promo", public_key="pk-promo-123", allowed_origins=["https://promo.example.co.id"])
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")

    # Landing-page capture with a form key, then an integration's events and a bad one.
    capture = Client().post("/api/capture/", data=json.dumps({
        "form_key": form.public_key, "full_name": NAME, "email": EMAIL, "phone": PHONE_RAW, "company": COMPANY,
        "consent_whatsapp": True, "message": f"Hubungi saya di {PHONE_RAW}",
    }), content_type="application/json", HTTP_ORIGIN="https://promo.example.co.id")
    assert capture.status_code in (200, 201), capture.content
    contact = Contact.objects.get(email=EMAIL)
    for kind in ("price_requested", "demo_requested", "purchase"):
        answer = api.post("/api/interactions/", data=json.dumps({"contact_email": EMAIL, "kind": kind, "source": "shop",
                                                                 "data": {"email": EMAIL, "phone": PHONE}}),
                          content_type="application/json")
        assert answer.status_code == 201
    bad = api.post("/api/interactions/", data=json.dumps({"contact_email": EMAIL, "kind": "no_such_kind"}),
                   content_type="application/json")
    assert bad.status_code == 400
    missing = api.post("/api/interactions/", data=json.dumps({"contact_email": "nobody." + EMAIL, "kind": "purchase"}),
                       content_type="application/json")
    assert missing.status_code in (400, 404)

    # A rep's note on the page, a failed and a good login, then access and erasure.
    pages = Client()
    pages.force_login(marketer)
    pages.post(f"/contacts/{contact.pk}/notes/", {"body": f"Telepon {NAME} di {PHONE}"})
    Client().post("/accounts/login/", {"username": "ayu", "password": PASSWORD_TRIED})
    Client().post("/accounts/login/", {"username": "ayu", "password": "pw-ayu"})
    boss = Client()
    boss.force_login(admin)
    assert boss.get(f"/contacts/{contact.pk}/privacy/access.json").status_code == 200
    assert boss.post(f"/contacts/{contact.pk}/privacy/erase/", {"mode": "delete", "confirm": "on"}).status_code == 302

    assert caplog.records, "the flows should log something (tasks, requests)"
    forbidden = (EMAIL, PHONE, PHONE_RAW, NAME, COMPANY, PASSWORD_TRIED, "pw-ayu", token, form.public_key, settings.SECRET_KEY)
    leaks = [(r.name, r.levelname, value, _record_text(r)[:300])
             for r in caplog.records for value in forbidden if value in _record_text(r)]
    assert not leaks, leaks
