"""The answer to one POSTed event is built without a ModelSerializer (interaction_representation):
it must stay what InteractionSerializer says, field for field, in either language's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone, translation

from contacts.api.serializers import InteractionSerializer, interaction_representation
from contacts.models import Interaction
from contacts.services import interaction_log

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("values", [
    {},
    {"channel": "whatsapp", "data": {"product": "paket A", "qty": 2, "nested": {"a": [1, None]}}, "source": "wa-bot",
     "external_id": "wa-1"},
    {"occurred_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},  # whole seconds: no fraction in the text
    {"occurred_at": datetime(2025, 12, 31, 23, 59, 59, 123456, tzinfo=UTC), "data": {"note": None}},
    {"external_id": "", "source": ""},
])
@pytest.mark.parametrize("zone", ["Asia/Jakarta", "UTC"])
def test_the_answer_matches_the_serializer(make_contact, catalog, marketer, values, zone):
    logged = interaction_log(contact=make_contact(), kind="price_requested", by=marketer, **values)
    stored = Interaction.objects.get(pk=logged.interaction.pk)
    with timezone.override(zone), translation.override("id"):
        for interaction in (logged.interaction, stored):  # as written, and as read back
            assert interaction_representation(interaction) == InteractionSerializer(interaction).data


def test_the_answer_of_an_event_without_author_or_key(make_contact, catalog):
    logged = interaction_log(contact=make_contact(), kind="page_viewed", occurred_at=timezone.now() - timedelta(days=1))
    body = interaction_representation(logged.interaction)
    assert body["created_by"] is None and body["external_id"] is None
    assert body == InteractionSerializer(logged.interaction).data
