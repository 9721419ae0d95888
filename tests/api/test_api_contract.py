"""Parsing is exactly as strict as /api/schema/ says (crm/api_strict.py), case by case: the
mismatches an outside `schemathesis run --checks all` found, each pinned down by name."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_for, admin):
    return api_for(admin).get("/api/schema/?format=json").json()


def _params(schema, path, method="get"):
    return {p["name"]: p["schema"] for p in schema["paths"][path][method].get("parameters", [])}


# --- Bodies ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({"full_name": "Ani", "external_ref": 0}, "external_ref"),         # a string field refuses a number
    ({"full_name": "Ani", "do_not_contact": 0}, "do_not_contact"),     # a boolean refuses 0
    ({"full_name": "Ani", "attributes": []}, "attributes"),            # an object refuses a list
    ({"full_name": "Ani", "objects_to_profiling": 0}, "objects_to_profiling"),  # read-only here
    ({"full_name": "Ani", "nickname": "A"}, "nickname"),               # unknown
    ({"full_name": "\x1c" + "a" * 200}, "full_name"),                  # maxLength counts before trimming
])
def test_contact_body_refuses_what_the_schema_forbids(api_for, admin, body, field):
    response = api_for(admin).post("/api/contacts/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


def test_wrong_json_types_are_refused_in_every_strict_body(api_for, admin, make_contact):
    client = api_for(admin)
    contact = make_contact(full_name="Ani", email="ani@example.co.id")
    note = client.post("/api/notes/", {"contact": str(contact.pk), "body": "Halo"}, format="json")
    assert note.json()["fields"] == {"contact": ["Must be a whole number."]}
    batch = client.post("/api/interactions/", [{"contact": contact.pk, "kind": "page_viewed", "data": "x"}], format="json")
    assert batch.json()["fields"] == {"0.data": ["Must be an object."]}
    kinds = client.post("/api/interaction-kinds/", {"slug": "x", "name": "X", "intent_level": "interest",
                                                    "description": 0}, format="json")
    assert kinds.json()["fields"] == {"description": ["Must be a text value."]}


def test_request_schemas_declare_what_is_refused(schema):
    components = schema["components"]["schemas"]
    contact = components["ContactInputRequest"]
    assert contact["additionalProperties"] is False
    assert [branch["required"] for branch in contact["anyOf"]] == [["email"], ["phone"], ["full_name"], ["external_ref"]]
    assert "anyOf" not in components["PatchedContactInputRequest"]  # a PATCH may change anything alone
    assert [b["required"] for b in components["InteractionInputRequest"]["oneOf"]] == [
        ["contact"], ["contact_email"], ["contact_phone"]]
    assert [b["required"] for b in components["CaptureRequest"]["anyOf"]] == [["email"], ["phone"]]
    assert components["InteractionKindInputRequest"]["properties"]["name"]["pattern"] == r"\S"  # "  " is blank
    strict = [name for name, body in components.items() if name.endswith("Request") and name != "CaptureRequest"
              and body.get("type") == "object"]
    assert strict and all(components[name].get("additionalProperties") is False for name in strict)


def test_times_before_1900_are_refused_as_the_schema_pattern_says(api_for, admin, make_contact, schema):
    contact = make_contact(full_name="Ani")
    client = api_for(admin)
    old = client.post("/api/notes/", {"contact": contact.pk, "body": "x", "due_at": "0647-03-12T00:11:54Z"}, format="json")
    assert old.json()["fields"] == {"due_at": ["Cannot be before 1900."]}
    edge = client.post("/api/notes/", {"contact": contact.pk, "body": "x", "due_at": "1900-01-01T00:00:00+14:00"}, format="json")
    assert edge.status_code == 201  # the year as written, as the pattern reads it
    pattern = schema["components"]["schemas"]["NoteInputRequest"]["properties"]["due_at"]["pattern"]
    assert pattern == r"^(19\d\d|[2-9]\d{3})-"


def test_a_new_sequence_needs_what_the_schema_requires(api_for, admin, schema):
    response = api_for(admin).post("/api/sequences/", {}, format="json")
    assert set(response.json()["fields"]) == {"name", "trigger_stage", "steps"}
    create = schema["components"]["schemas"]["SequenceInputRequest"]
    assert set(create["required"]) == {"name", "trigger_stage", "steps"}
    assert create["properties"]["steps"]["minItems"] == 1
    assert "required" not in schema["components"]["schemas"]["PatchedSequenceInputRequest"]


def test_ids_beyond_any_database_id_are_a_400_not_a_500(api_for, admin):
    client = api_for(admin)
    steps = client.post("/api/sequences/", {"name": "a", "trigger_stage": "lead",
                                            "steps": [{"message": 2**64, "wait_days": 1}]}, format="json")
    assert (steps.status_code, list(steps.json()["fields"])) == (400, ["steps.0.message"])
    owner = client.post("/api/contacts/", {"full_name": "Ani", "owner": 2**64}, format="json")
    assert (owner.status_code, list(owner.json()["fields"])) == (400, ["owner"])


def test_a_contact_needs_one_identity_and_says_so(api_for, admin):
    response = api_for(admin).post("/api/contacts/", {"city": "Bandung"}, format="json")
    assert response.status_code == 400


def test_patch_to_another_contacts_external_ref_is_a_400_not_a_500(api_for, admin, make_contact):
    make_contact(full_name="Ani", external_source="shop", external_ref="A-1")
    other = make_contact(full_name="Budi", external_source="shop")
    response = api_for(admin).patch(f"/api/contacts/{other.pk}/", {"external_ref": "A-1"}, format="json")
    assert (response.status_code, list(response.json()["fields"])) == (400, ["external_ref"])


def test_segment_filter_values_have_their_documented_types(api_for, admin):
    client = api_for(admin)
    response = client.post("/api/segments/", {"name": "Lama", "filters": {"last_interaction_before": True}}, format="json")
    assert (response.status_code, list(response.json()["fields"])) == (400, ["filters.last_interaction_before"])
    response = client.post("/api/segments/", {"name": "Lama", "filters": {"active_within": "30"}}, format="json")
    assert list(response.json()["fields"]) == ["filters.active_within"]
    ok = client.post("/api/segments/", {"name": "Lama", "filters": {"active_within": 30, "stage": None}}, format="json")
    assert ok.status_code == 201


# --- Query strings -----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "query", "field"), [
    ("/api/contacts/", "updated_since=", "updated_since"),
    ("/api/contacts/", "active_within=", "active_within"),
    ("/api/contacts/", "active_within=-1", "active_within"),
    ("/api/notes/", "open=null", "open"),
    ("/api/interactions/", "contact=", "contact"),
    ("/api/contacts/", "page_size=1001", "page_size"),
    ("/api/contacts/", "page_size=0", "page_size"),
    ("/api/contacts/", "page=abc", "page"),
    ("/api/contacts/", "paginate=", "paginate"),
    ("/api/funnel/", "source=", "source"),
])
def test_query_parameters_the_schema_forbids_are_refused(api_for, admin, path, query, field):
    response = api_for(admin).get(f"{path}?{query}")
    assert (response.status_code, list(response.json()["fields"])) == (400, [field])


def test_query_parameters_the_schema_allows_are_accepted(api_for, admin, schema):
    client = api_for(admin)
    # Any valid time: a bound before 1900 selects what 1900 does (nothing is stored earlier).
    assert client.get("/api/contacts/?updated_since=0001-01-01T00:00:00Z").status_code == 200
    assert client.get("/api/interactions/?since=0001-01-01T00:00:00%2B14:00&until=9999-12-31T23:59:59-12:00").status_code == 200
    assert client.get("/api/contacts/?score_min=0.5").status_code == 200  # declared a number, not an integer
    assert client.get("/api/contacts/?ordering=").status_code == 200  # an empty list of sort keys
    # Page mode caps page_size at 500 (the schema's 1,000 is cursor mode's).
    assert client.get("/api/contacts/?page_size=700").status_code == 200
    assert client.get("/api/contacts/?page=99999999999999999999").status_code == 404  # past the end
    contacts = _params(schema, "/api/contacts/")
    assert (contacts["active_within"]["minimum"], contacts["active_within"]["maximum"]) == (0, 36500)
    assert (contacts["score_min"]["type"], contacts["score_min"]["maximum"]) == ("number", 1e50)  # django-filter's cap
    assert client.get("/api/contacts/?score_min=2e297").json()["fields"] == {
        "score_min": ["Ensure this value is less than or equal to 1e+50."]}
    assert (contacts["page_size"]["minimum"], contacts["page_size"]["maximum"]) == (1, 1000)
    assert _params(schema, "/api/notes/")["contact"]["maximum"] == 2**63 - 1
