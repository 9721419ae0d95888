"""POST/GET /api/interactions/: one or a batch, idempotent by (source, external_id), all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, Interaction
from scoring import rescoring

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored_runs(monkeypatch):
    """The contact ids of each bulk scoring pass the woken scorer made (the real scoring still runs)."""
    runs: list[list[int]] = []
    original = rescoring.contacts_rescore

    def spy(*, contact_ids, **kwargs):
        runs.append(sorted(contact_ids))
        return original(contact_ids=contact_ids, **kwargs)

    monkeypatch.setattr(rescoring, "contacts_rescore", spy)
    return runs


def test_one_event_by_email_is_created_then_replayed(api_for, marketer, make_contact, catalog, on_commit, playbooks):
    contact = make_contact(email="rina@example.co.id")
    client = api_for(marketer)
    event = {"contact_email": "RINA@example.co.id", "kind": "price_requested", "source": "wa-bot", "external_id": "wa-1",
             "channel": "whatsapp", "data": {"product": "paket A"}}

    with on_commit():
        first = client.post("/api/interactions/", event, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["replayed"] is False and first.json()["contact"] == contact.pk
    second = client.post("/api/interactions/", {**event, "data": {"product": "changed"}}, format="json")
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"] and second.json()["replayed"] is True
    assert second.json()["data"] == {"product": "paket A"}
    assert Interaction.objects.count() == 1
    contact.refresh_from_db()
    assert contact.stage == "lead"  # 20 points for the price request ≥ lead threshold 20


def test_event_by_phone_is_normalised(api_for, admin, make_contact, catalog):
    contact = make_contact(phone="+6281234567890")
    response = api_for(admin).post("/api/interactions/", {"contact_phone": "0812-3456-7890", "kind": "page_viewed"}, format="json")
    assert response.status_code == 201
    assert response.json()["contact"] == contact.pk


@pytest.mark.parametrize("change, field", [
    ({"kind": "teleported"}, "kind"),
    ({"occurred_at": "2099-01-01T00:00:00+07:00"}, "occurred_at"),
    ({"contact": 999999}, "contact"),
    ({"contact": None, "contact_email": "nobody@example.co.id"}, "contact_email"),
    ({"contact_email": "also@example.co.id"}, "contact"),  # two ways to name the contact
    ({"channel": "pigeon"}, "channel"),
    ({"data": ["not", "an", "object"]}, "data"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_events_answer_400_naming_the_field(api_for, admin, make_contact, catalog, change, field):
    contact = make_contact()
    event = {"contact": contact.pk, "kind": "page_viewed", **change}
    event = {k: v for k, v in event.items() if v is not None}
    response = api_for(admin).post("/api/interactions/", event, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["fields"], response.json()
    assert not Interaction.objects.exists()


def test_a_rep_cannot_log_on_another_reps_contact(api_for, rep, other_rep, make_contact, catalog):
    theirs = make_contact(owner=other_rep)
    mine = make_contact(owner=rep)
    client = api_for(rep)
    refused = client.post("/api/interactions/", {"contact": theirs.pk, "kind": "page_viewed"}, format="json")
    assert refused.status_code == 400 and "contact" in refused.json()["fields"]
    assert client.post("/api/interactions/", {"contact": mine.pk, "kind": "page_viewed"}, format="json").status_code == 201


def test_a_batch_with_one_bad_item_writes_nothing_and_names_index_and_field(api_for, admin, make_contact, catalog):
    contact = make_contact()
    future = (timezone.now() + timedelta(days=1)).isoformat()
    batch = [
        {"contact": contact.pk, "kind": "page_viewed", "external_id": "e1", "source": "shop"},
        {"contact": contact.pk, "kind": "nope", "external_id": "e2", "source": "shop"},
        {"contact": contact.pk, "kind": "page_viewed", "occurred_at": future},
        {"contact_email": "ghost@example.co.id", "kind": "page_viewed"},
    ]
    response = api_for(admin).post("/api/interactions/", batch, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"1.kind", "2.occurred_at", "3.contact_email"}
    assert not Interaction.objects.exists()


def test_batch_limits(api_for, admin, catalog):
    client = api_for(admin)
    assert client.post("/api/interactions/", [], format="json").status_code == 400
    too_many = [{"contact": 1, "kind": "page_viewed"}] * 1001
    response = client.post("/api/interactions/", too_many, format="json")
    assert response.status_code == 400 and "1000" in response.json()["fields"]["non_field_errors"][0]


def test_a_retried_batch_of_1000_changes_nothing_the_second_time(
    api_for, marketer, make_contact, catalog, playbooks, on_commit, scored_runs,
):
    contacts = [make_contact() for _ in range(10)]
    scored_runs.clear()
    start = timezone.now() - timedelta(days=2)
    batch = [
        {"contact": contacts[i % 10].pk, "kind": "page_viewed" if i % 50 else "price_requested", "source": "shop",
         "external_id": f"evt-{i}", "occurred_at": (start + timedelta(minutes=i)).isoformat(), "data": {"i": i}}
        for i in range(1000)
    ]
    client = api_for(marketer)
    with on_commit():
        first = client.post("/api/interactions/", batch, format="json")
    assert first.status_code == 201
    assert (first.json()["created"], first.json()["replayed"]) == (1000, 0)
    # One bulk scoring pass over the touched contacts, not one per event.
    assert scored_runs == [sorted(c.pk for c in contacts)]

    def state():
        return (
            list(Interaction.objects.order_by("pk").values_list("pk", "contact_id", "kind_id", "occurred_at", "data")),
            list(Contact.objects.order_by("pk").values_list("pk", "score", "stage", "last_interaction_at", "updated_at")),
        )

    before = state()
    scored_runs.clear()
    with on_commit():
        second = client.post("/api/interactions/", batch, format="json")
    assert second.status_code == 200
    assert (second.json()["created"], second.json()["replayed"]) == (0, 1000)
    assert [r["id"] for r in second.json()["results"]] == [r["id"] for r in first.json()["results"]]
    assert {r["status"] for r in second.json()["results"]} == {"replayed"}
    assert state() == before
    assert scored_runs == []


def test_list_filters_by_contact_kind_and_since(api_for, rep, other_rep, make_contact, log, catalog):
    mine, theirs = make_contact(owner=rep), make_contact(owner=other_rep)
    old = timezone.now() - timedelta(days=10)
    log(mine, "page_viewed", occurred_at=old)
    log(mine, "price_requested")
    log(theirs, "price_requested")
    client = api_for(rep)
    everything = client.get("/api/interactions/").json()
    assert everything["count"] == 2  # never the other rep's contact's events
    assert client.get("/api/interactions/", {"kind": "price_requested"}).json()["count"] == 1
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert client.get("/api/interactions/", {"since": since}).json()["count"] == 1
    assert client.get("/api/interactions/", {"contact": theirs.pk}).json()["count"] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_external_id_make_one_interaction(api_for, marketer, make_contact, catalog, post_concurrently):
    """Two deliveries of one event arrive at the same moment: exactly one interaction, and
    both answers name it. On PostgreSQL both transactions really overlap and the unique
    (source, external_id) constraint decides; SQLite serialises the writers."""
    contact = make_contact()
    api_for(marketer)  # the token exists before the threads look it up
    body = {"contact": contact.pk, "kind": "form_submitted", "source": "landing"}
    for attempt in range(3):
        body["external_id"] = f"sub-{attempt}"
        responses = post_concurrently(lambda: api_for(marketer), "/api/interactions/", body)
        assert all(r.status_code in (200, 201) for r in responses), [r.json() for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert Interaction.objects.filter(source="landing", external_id=f"sub-{attempt}").count() == 1
        if connection.vendor == "postgresql":
            assert sorted(r.status_code for r in responses) == [200, 201]


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_batches_store_each_event_once(api_for, marketer, make_contact, catalog, post_concurrently):
    contacts = [make_contact() for _ in range(3)]
    api_for(marketer)
    batch = [{"contact": c.pk, "kind": "page_viewed", "source": "shop", "external_id": f"b-{i}"}
             for i, c in enumerate(contacts * 20)]
    responses = post_concurrently(lambda: api_for(marketer), "/api/interactions/", batch)
    assert all(r.status_code in (200, 201) for r in responses), [r.json() for r in responses]
    assert Interaction.objects.count() == 60
    ids = [[item["id"] for item in r.json()["results"]] for r in responses]
    assert ids[0] == ids[1]  # both answers list the same 60 interactions


# --- Security round two (issue 15) ------------------------------------------------------------

def test_a_replay_of_another_reps_event_reveals_nothing_and_stores_nothing(api_for, rep, other_rep, make_contact, log, catalog):
    theirs = make_contact(owner=other_rep, full_name="Rahasia Orang")
    mine = make_contact(owner=rep)
    original = log(theirs, "price_requested", source="wa-bot", external_id="wa-77", data={"note": "budget 90 juta"}).interaction
    client = api_for(rep)

    one = client.post("/api/interactions/", {"contact": mine.pk, "kind": "page_viewed", "source": "wa-bot",
                                             "external_id": "wa-77"}, format="json")
    batch = client.post("/api/interactions/", [
        {"contact": mine.pk, "kind": "page_viewed", "source": "wa-bot", "external_id": "wa-new"},
        {"contact": mine.pk, "kind": "page_viewed", "source": "wa-bot", "external_id": "wa-77"},
    ], format="json")
    for response in (one, batch):
        assert response.status_code == 409, response.json()
        body = response.json()
        assert set(body) == {"error", "detail", "fields"}
        text = str(body)
        assert "90 juta" not in text and "Rahasia" not in text and f"#{original.pk}" not in text
        assert set(body["fields"]) in ({"external_id"}, {"1.external_id"})  # the field, never the other row
    assert list(Interaction.objects.values_list("pk", flat=True)) == [original.pk]
    mine.refresh_from_db()
    assert mine.last_interaction_at is None


def test_a_rep_replaying_their_own_event_still_gets_it_back(api_for, rep, make_contact, catalog):
    mine = make_contact(owner=rep)
    event = {"contact": mine.pk, "kind": "page_viewed", "source": "wa-bot", "external_id": "wa-1"}
    client = api_for(rep)
    first, second = client.post("/api/interactions/", event, format="json"), client.post("/api/interactions/", event, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"] and second.json()["replayed"] is True
