"""One error shape for every failure, body-size and rate limits, and the OpenAPI schema:
valid, complete (every public path) and described (every property, every parameter)."""

from __future__ import annotations

import json

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIRequestFactory

from crm.api_common import api_exception_handler

pytestmark = pytest.mark.django_db

ERROR_KEYS = {"error", "detail", "fields"}

PUBLIC_PATHS = {
    "/api/contacts/", "/api/contacts/{id}/", "/api/interactions/", "/api/interactions/{id}/", "/api/capture/",
    "/api/notes/", "/api/notes/{id}/", "/api/funnel/", "/api/rulesets/", "/api/rulesets/{id}/",
    "/api/rulesets/{id}/draft/", "/api/rulesets/{id}/preview/", "/api/rulesets/{id}/publish/",
    "/api/interaction-kinds/", "/api/interaction-kinds/{slug}/",
}


def test_401_without_credentials(api_for):
    response = api_for().get("/api/contacts/")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated" and set(response.json()) == ERROR_KEYS
    assert response["WWW-Authenticate"] == "Token"


def test_401_with_a_wrong_token(api_for):
    client = api_for()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/contacts/")
    assert (response.status_code, response.json()["error"]) == (401, "authentication_failed")


def test_403_for_a_role_without_access(api_for, rep):
    response = api_for(rep).get("/api/rulesets/")
    assert (response.status_code, response.json()["error"]) == (403, "permission_denied")


def test_404_for_unknown_objects_and_unknown_paths(api_for, admin):
    client = api_for(admin)
    for url in ("/api/contacts/999999/", "/api/contacts/99999999999999999999999/", "/api/nothing-here/", "/api/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"] == "not_found" and set(response.json()) == ERROR_KEYS


def test_405_in_the_same_shape(api_for, admin):
    response = api_for(admin).delete("/api/interactions/")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")


def test_malformed_json_is_a_400_parse_error(api_for, admin):
    response = api_for(admin).generic("POST", "/api/contacts/", "{not json", content_type="application/json")
    assert (response.status_code, response.json()["error"]) == (400, "parse_error")


def test_unsupported_content_type_is_415(api_for, admin):
    response = api_for(admin).generic("POST", "/api/contacts/", "<xml/>", content_type="application/xml")
    assert (response.status_code, response.json()["error"]) == (415, "unsupported_media_type")


def test_bodies_over_the_limit_are_refused_with_413(api_for, admin, settings, capture_form):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"full_name": "x" * 2000})
    client = api_for(admin)
    for url in ("/api/contacts/", "/api/interactions/", "/api/capture/"):
        response = client.generic("POST", url, big, content_type="application/json")
        assert (response.status_code, response.json()["error"]) == (413, "request_too_large"), url
    form = client.generic("POST", "/api/capture/", "full_name=" + "x" * 2000, content_type="application/x-www-form-urlencoded")
    assert form.status_code == 413


def test_a_browser_asking_for_html_still_gets_json(api_for, admin):
    response = api_for(admin).get("/api/contacts/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_unexpected_exceptions_become_a_logged_500_in_the_same_shape(caplog):
    request = APIRequestFactory().get("/api/contacts/")
    response = api_exception_handler(RuntimeError("boom"), {"view": None, "request": request})
    assert response.status_code == 500
    assert response.data["error"] == "server_error" and set(response.data) == ERROR_KEYS
    assert "boom" in caplog.text


def test_per_token_throttling(api_for, admin, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {**UserRateThrottle.THROTTLE_RATES, "user": "3/min"})
    client = api_for(admin)
    statuses = [client.get("/api/interaction-kinds/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


# --- Schema -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        from django.test import Client, override_settings

        with override_settings(CRM_PUBLIC_API_DOCS=True):
            response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_valid_openapi_and_generates_without_warnings(tmp_path):
    # The same check as `manage.py spectacular --validate --fail-on-warn`.
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    validate_schema(yaml.safe_load(out.read_text()))


def test_schema_covers_the_public_contract(schema):
    assert PUBLIC_PATHS <= set(schema["paths"])
    contacts = schema["paths"]["/api/contacts/"]["get"]
    params = {p["name"] for p in contacts["parameters"]}
    assert {"stage", "industry", "source", "owner", "score_min", "score_max", "updated_since", "search", "ordering",
            "cursor", "paginate"} <= params
    detail = schema["components"]["schemas"]["ContactDetail"]["properties"]
    assert {"score_breakdown", "stage_history", "score", "stage"} <= set(detail)
    interactions = schema["paths"]["/api/interactions/"]
    assert {"contact", "kind", "since"} <= {p["name"] for p in interactions["get"]["parameters"]}
    assert "1,000" in interactions["post"]["description"] and "all-or-nothing" in interactions["post"]["description"]
    batch = schema["components"]["schemas"]["InteractionBatchRequest"]
    assert (batch["type"], batch["maxItems"], batch["minItems"]) == ("array", 1000, 1)
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_every_operation_documents_the_error_shape(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status in ("400", "401", "403", "404", "429", "500"):
                assert operation["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}, (method, path, status)


def _undescribed(name: str, schema: dict, where: str) -> list[str]:
    missing = []
    for prop, spec in schema.get("properties", {}).items():
        if not spec.get("description"):
            missing.append(f"{where}.{prop}")
    return missing


def test_every_property_and_parameter_has_a_description(schema):
    missing = []
    for name, component in schema["components"]["schemas"].items():
        missing += _undescribed(name, component, name)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for param in operation.get("parameters", []):
                if not param.get("description"):
                    missing.append(f"{method.upper()} {path} ?{param['name']}")
            if not (operation.get("summary") or operation.get("description")):
                missing.append(f"{method.upper()} {path} (operation)")
    assert missing == []


def test_swagger_ui_is_served_from_our_own_static_files(client, marketer):
    client.force_login(marketer)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"/api/schema/" in script.content


def test_messages_follow_accept_language(api_for, admin):
    client = api_for(admin)
    english = client.post("/api/contacts/", {"full_name": "Z", "score": 5}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    indonesian = client.post("/api/contacts/", {"full_name": "Z", "score": 5}, format="json", HTTP_ACCEPT_LANGUAGE="id")
    assert english.json()["fields"]["score"] == ["This field is read-only."]
    assert indonesian.json()["fields"]["score"] != english.json()["fields"]["score"]
    assert indonesian.json()["error"] == english.json()["error"] == "validation_error"  # codes never translate


# --- Security round two (issue 15) ------------------------------------------------------------

def test_schema_and_docs_need_a_login_by_default(client, api_for, rep):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 401 and schema.json()["error"] == "not_authenticated"
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and "/accounts/login/" in docs["Location"]
    assert client.get("/api/docs/?script=").status_code == 302
    assert api_for(rep).get("/api/schema/?format=json").status_code == 200
    client.force_login(rep)
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/?format=json").status_code == 200


def test_a_setting_opens_schema_and_docs_to_everyone(client, settings):
    settings.CRM_PUBLIC_API_DOCS = True
    assert client.get("/api/schema/?format=json").status_code == 200
    assert client.get("/api/docs/").status_code == 200
