"""crm.api_strict.FieldsBuiltOnce: an input serializer's fields are built once per thread and language
and handed to each instance in turn; one instance's values and errors never reach the next, a message
is in the language of the request that gets it, and threads do not share fields."""

from __future__ import annotations

import threading

from django.utils import translation

from contacts.api.serializers import InteractionInputSerializer


def test_each_instance_validates_on_its_own():
    bad = InteractionInputSerializer(data={"contact": 0, "kind": "bad kind!", "surprise": 1})
    assert not bad.is_valid()
    assert set(bad.errors) == {"surprise"}  # unknown keys are refused before the values are read
    bad = InteractionInputSerializer(data={"contact": 0, "kind": "bad kind!"})
    assert not bad.is_valid() and set(bad.errors) == {"contact", "kind"}
    good = InteractionInputSerializer(data={"contact": 7, "kind": "page_viewed", "data": {"a": "b"}})
    assert good.is_valid(), good.errors
    assert dict(good.validated_data) == {"contact": 7, "kind": "page_viewed", "data": {"a": "b"}}
    assert bad.errors and set(bad.errors) == {"contact", "kind"}  # the earlier instance's answer is kept
    assert all(field.parent is good for field in good.fields.values())


def test_the_fields_are_built_once_per_thread():
    first, second = InteractionInputSerializer(data={}), InteractionInputSerializer(data={})
    assert first.fields["kind"] is second.fields["kind"]
    other: list = []
    thread = threading.Thread(target=lambda: other.append(InteractionInputSerializer(data={}).fields["kind"]))
    thread.start()
    thread.join()
    assert other[0] is not first.fields["kind"]


def test_messages_are_in_each_requests_language():
    """DRF renders a range or length message once and keeps it: fields built under one language must
    not answer another's request."""
    def contact_error(language: str) -> str:
        with translation.override(language):
            serializer = InteractionInputSerializer(data={"contact": 0, "kind": "page_viewed"})
            assert not serializer.is_valid()
            return str(serializer.errors["contact"][0])

    english, indonesian = contact_error("en"), contact_error("id")
    assert english != indonesian
    assert "greater than or equal to 1" in english and "1" in indonesian
    assert contact_error("en") == english and contact_error("id") == indonesian
    with translation.override("id"):
        fresh = InteractionInputSerializer(data={}).fields["contact"]
    assert fresh is not InteractionInputSerializer(data={}).fields["contact"]  # (the default language here is English)
