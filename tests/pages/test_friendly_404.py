"""The 404 page under DEBUG (issue 18, defect 10): `make demo` sets CRM_FRIENDLY_404 and shows the
product's page; without it a developer keeps Django's technical page (the URL patterns)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

TECHNICAL = "Using the URLconf defined in"


@pytest.fixture
def friendly(settings):
    settings.DEBUG = True
    settings.CRM_FRIENDLY_404 = True


def test_the_demo_answers_an_unknown_url_with_the_product_page(client_for, marketer, friendly):
    response = client_for(marketer).get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "We couldn't find that page" in html and "Back to the dashboard" in html
    assert TECHNICAL not in html and "crm.urls" not in html


def test_a_view_that_raises_404_gets_the_product_page_too(client_for, marketer, friendly):
    response = client_for(marketer).get("/contacts/987654/")
    assert response.status_code == 404
    assert "We couldn't find that page" in response.content.decode()


def test_the_product_page_speaks_indonesian(client_for, marketer, friendly):
    client = client_for(marketer)
    client.cookies["django_language"] = "id"
    html = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "We couldn't find that page" not in html and "404" in html


def test_the_api_keeps_its_json_404(client_for, marketer, friendly):
    response = client_for(marketer).get("/api/v1/contacts/987654/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


def test_developers_keep_the_technical_page(client_for, marketer, settings):
    settings.DEBUG = True
    settings.CRM_FRIENDLY_404 = False
    response = client_for(marketer).get("/no-such-page/")
    assert response.status_code == 404 and TECHNICAL in response.content.decode()


def test_make_demo_turns_it_on():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "CRM_FRIENDLY_404=$${CRM_FRIENDLY_404:-1}" in demo and "runserver" in demo
