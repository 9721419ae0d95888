"""/api/tasks/ and /api/notifications/: who sees and changes what, completion once, filters,
strict input, and the schema."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from contacts.models import Interaction
from followup.models import Notification, Task
from followup.services import task_create


def test_reps_list_their_own_tasks_managers_and_marketers_all(api_for, make_contact, rep, other_rep, manager, marketer):
    mine = task_create(contact=make_contact(owner=rep), type="call", due_at=timezone.now(), by=rep)
    task_create(contact=make_contact(owner=other_rep), type="call", due_at=timezone.now(), by=other_rep)
    assert [t["id"] for t in api_for(rep).get("/api/tasks/").json()["results"]] == [mine.pk]
    assert api_for(manager).get("/api/tasks/").json()["count"] == 2
    assert api_for(marketer).get("/api/tasks/").json()["count"] == 2
    row = api_for(rep).get(f"/api/tasks/{mine.pk}/").json()
    assert set(row) == {"id", "contact", "type", "due_at", "assignee", "done_at", "done_by", "outcome", "note", "created_at"}


def test_create_and_complete_over_the_api(api_for, make_contact, rep):
    person = make_contact(owner=rep)
    api = api_for(rep)
    created = api.post("/api/tasks/", {"contact": person.pk, "type": "whatsapp", "due_at": "2026-12-10T10:00:00+07:00",
                                       "note": "Send the catalogue"}, format="json")
    assert created.status_code == 201 and created.json()["assignee"] == rep.pk
    pk = created.json()["id"]
    done = api.post(f"/api/tasks/{pk}/complete/", {"outcome": "reached", "note": "Sent"}, format="json")
    assert done.status_code == 200 and done.json()["outcome"] == "reached" and done.json()["done_by"] == rep.pk
    again = api.post(f"/api/tasks/{pk}/complete/", {"outcome": "no_answer"}, format="json")
    assert again.status_code == 200 and again.json()["outcome"] == "reached"
    assert Interaction.objects.filter(contact=person, kind="whatsapp_sent").count() == 1


def test_bad_input_is_refused_by_field(api_for, make_contact, rep, marketer):
    person = make_contact(owner=rep)
    api = api_for(rep)
    unknown = api.post("/api/tasks/", {"contact": person.pk, "due_at": "2026-12-10T10:00:00+07:00", "colour": "red"},
                       format="json")
    assert unknown.status_code == 400 and set(unknown.json()["fields"]) == {"colour"}
    response = api.post("/api/tasks/", {"contact": person.pk, "type": "fax", "due_at": "soon"}, format="json")
    assert response.status_code == 400 and set(response.json()["fields"]) == {"type", "due_at"}
    task = task_create(contact=person, type="call", due_at=timezone.now(), by=rep)
    bad = api.post(f"/api/tasks/{task.pk}/complete/", {"outcome": "maybe"}, format="json")
    assert bad.status_code == 400 and "outcome" in bad.json()["fields"]
    assert api_for(marketer).post(f"/api/tasks/{task.pk}/complete/", {"outcome": "reached"}, format="json").status_code == 403
    assert Task.objects.get(pk=task.pk).done_at is None


def test_a_rep_cannot_give_tasks_to_others(api_for, make_contact, rep, other_rep, manager):
    person = make_contact(owner=rep)
    body = {"contact": person.pk, "type": "call", "due_at": "2026-12-10T10:00:00+07:00", "assignee": other_rep.pk}
    assert api_for(rep).post("/api/tasks/", body, format="json").status_code == 400
    assert api_for(manager).post("/api/tasks/", body, format="json").json()["assignee"] == other_rep.pk


def test_task_filters(api_for, make_contact, rep):
    now = timezone.now()
    a = task_create(contact=make_contact(owner=rep), type="call", due_at=now - timedelta(hours=1), by=rep)
    b = task_create(contact=make_contact(owner=rep), type="meeting", due_at=now + timedelta(days=2), by=rep)
    api = api_for(rep)
    api.post(f"/api/tasks/{a.pk}/complete/", {"outcome": "reached"}, format="json")
    ids = lambda q: [t["id"] for t in api.get(f"/api/tasks/?{q}").json()["results"]]  # noqa: E731
    assert ids("done=false") == [b.pk] and ids("done=true") == [a.pk]
    assert ids("type=meeting") == [b.pk] and ids(f"contact={a.contact_id}") == [a.pk]
    assert ids("assignee=me") == [a.pk, b.pk]
    assert api.get("/api/tasks/?assignee=someone").status_code == 400


def test_notifications_are_the_callers_own(api_for, make_contact, rep, other_rep):
    person = make_contact(owner=rep, full_name="Dewi")
    mine = Notification.objects.create(user=rep, kind="assigned", contact=person, key="a")
    theirs = Notification.objects.create(user=other_rep, kind="assigned", contact=person, key="a")
    api = api_for(rep)
    rows = api.get("/api/notifications/").json()["results"]
    assert [(r["id"], r["read"], r["text"]) for r in rows] == [(mine.pk, False, "New prospect Dewi was assigned to you.")]
    assert api.get(f"/api/notifications/{theirs.pk}/").status_code == 404
    assert api.post(f"/api/notifications/{theirs.pk}/read/").status_code == 404
    assert api.post(f"/api/notifications/{mine.pk}/read/").json()["read"] is True
    assert api.get("/api/notifications/?read=false").json()["count"] == 0
    Notification.objects.create(user=rep, kind="digest", params={"overdue": 2, "today": 0}, key="d")
    assert api.post("/api/notifications/read-all/", {}, format="json").json() == {"marked": 1}
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_schema_documents_tasks_and_notifications(api_for, admin):
    schema = api_for(admin).get("/api/schema/?format=json").json()
    assert {"/api/tasks/", "/api/tasks/{id}/complete/", "/api/notifications/", "/api/notifications/read-all/"} <= set(
        schema["paths"])
    task = schema["components"]["schemas"]["Task"]["properties"]
    assert all(prop.get("description") or "allOf" in prop for prop in task.values())
    assert "OutcomeEnum" in schema["components"]["schemas"] and "TaskTypeEnum" in schema["components"]["schemas"]
