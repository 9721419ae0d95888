"""/api/segments/ (CRUD, role-checked) and /api/segments/<id>/contacts/ (the /api/contacts/
serializer and pagination, limited to what the caller may see); the schema documents filters."""

from __future__ import annotations

import pytest

from contacts.models import Segment
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db
URL = "/api/segments/"


def test_marketer_creates_reads_updates_and_deletes(api_for, marketer, crowd):
    api = api_for(marketer)
    created = api.post(URL, {"name": "Education leads", "filters": {"stage": "lead", "industry": "education",
                                                                   "score_gte": 10, "attributes.plan": "gold"}},
                       format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Education leads"
    assert body["filters"] == {"stage": "lead", "industry": "education", "score_gte": 10, "attributes.plan": "gold"}
    assert body["created_by"] == marketer.pk
    assert body["contacts_url"].endswith(f"/api/segments/{body['id']}/contacts/")
    detail = f"{URL}{body['id']}/"

    assert api.get(detail).json()["name"] == "Education leads"
    assert [s["name"] for s in api.get(URL).json()["results"]] == ["Education leads"]

    patched = api.patch(detail, {"name": "Gold education leads"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["filters"]["stage"] == "lead"  # a PATCH without filters keeps them
    replaced = api.put(detail, {"name": "Prospects"}, format="json")
    assert replaced.status_code == 200 and replaced.json()["filters"] == {}  # a PUT replaces everything

    assert api.delete(detail).status_code == 204
    assert api.get(detail).status_code == 404
    actions = list(AuditEvent.objects.filter(object_type="contacts.segment").order_by("id").values_list("action", flat=True))
    assert actions == ["create", "change", "change", "delete"]


def test_bad_filters_answer_400_naming_the_field(api_for, marketer):
    api = api_for(marketer)
    response = api.post(URL, {"name": "Bad", "filters": {"stage": "vip", "attributes.employees__gte": "lots"}},
                        format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert set(body["fields"]) == {"filters.stage", "filters.attributes.employees__gte"}
    assert api.post(URL, {"name": "X", "filters": {}, "id": 5}, format="json").json()["fields"] == {
        "id": ["This field is read-only."]}
    assert api.post(URL, {"name": "X", "filters": "stage=lead"}, format="json").json()["fields"] == {
        "filters": ["Must be an object of filter names and values."]}
    assert not Segment.objects.exists()


def test_duplicate_names_are_a_400_on_name(api_for, marketer, admin):
    api_for(marketer).post(URL, {"name": "Gold", "filters": {}}, format="json")
    response = api_for(admin).post(URL, {"name": "GOLD", "filters": {}}, format="json")
    assert response.status_code == 400 and "name" in response.json()["fields"]


def test_sales_read_but_never_write(api_for, rep, crowd):
    segment = Segment.objects.create(name="Leads", filters={"stage": "lead"})
    api = api_for(rep)
    assert api.get(URL).status_code == 200
    assert api.get(f"{URL}{segment.pk}/").status_code == 200
    assert api.post(URL, {"name": "Mine", "filters": {}}, format="json").status_code == 403
    assert api.patch(f"{URL}{segment.pk}/", {"name": "x"}, format="json").status_code == 403
    assert api.delete(f"{URL}{segment.pk}/").status_code == 403
    assert api_for(None).get(URL).status_code == 401


def test_contacts_endpoint_uses_the_contacts_serializer_and_pagination(api_for, marketer, crowd):
    segment = Segment.objects.create(name="Leads", filters={"stage": "lead"})
    api = api_for(marketer)
    response = api.get(f"{URL}{segment.pk}/contacts/?page_size=1")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    listed = api.get("/api/contacts/?stage=lead").json()["results"]
    assert set(body["results"][0]) == set(listed[0])  # the same fields as /api/contacts/
    second = api.get(body["next"]).json()["results"]
    assert {body["results"][0]["full_name"], second[0]["full_name"]} == {"ani", "budi"}
    cursor = api.get(f"{URL}{segment.pk}/contacts/?paginate=cursor").json()
    assert "count" not in cursor and len(cursor["results"]) == 2


def test_a_rep_gets_only_their_own_contacts_from_a_segment(api_for, rep, other_rep, crowd, settings):
    settings.CRM_SALES_CAN_READ_ALL = False
    segment = Segment.objects.create(name="Leads", filters={"stage": "lead"})
    mine = api_for(rep).get(f"{URL}{segment.pk}/contacts/").json()
    assert [c["full_name"] for c in mine["results"]] == ["ani"]
    theirs = api_for(other_rep).get(f"{URL}{segment.pk}/contacts/").json()
    assert [c["full_name"] for c in theirs["results"]] == ["budi"]


def test_contacts_api_accepts_segment_and_attribute_filters(api_for, marketer, crowd):
    segment = Segment.objects.create(name="Gold", filters={"attributes.plan": "gold"})
    api = api_for(marketer)
    names = sorted(c["full_name"] for c in api.get(f"/api/contacts/?segment={segment.pk}").json()["results"])
    assert names == ["ani", "citra"]
    names = sorted(c["full_name"] for c in api.get(f"/api/contacts/?segment={segment.pk}&stage=prospect").json()["results"])
    assert names == ["citra"]
    bad = api.get("/api/contacts/?attributes.employees__gte=lots")
    assert bad.status_code == 400 and "attributes.employees__gte" in bad.json()["fields"]
    assert api.get("/api/contacts/?segment=999999").status_code == 400


def test_unknown_segment_is_a_404(api_for, marketer):
    assert api_for(marketer).get(f"{URL}999/contacts/").status_code == 404


def test_schema_documents_the_filters_object(api_for, admin):
    schema = api_for(admin).get("/api/schema/?format=json").json()
    assert "/api/segments/{id}/contacts/" in schema["paths"]
    filters = schema["components"]["schemas"]["Segment"]["properties"]["filters"]
    assert filters["type"] == "object"
    assert {"stage", "industry", "tag", "score_gte", "score_lte", "consent", "active_within"} <= set(filters["properties"])
    # Blank or null leaves a filter out, so the enum says so too (the schema is what the server accepts).
    assert filters["properties"]["stage"]["enum"] == ["", "contact", "lead", "prospect", "customer", None]
    assert "attributes.<key>" in filters["description"] and "is_blank" in filters["description"]
