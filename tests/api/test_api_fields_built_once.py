"""crm.api_strict.FieldsBuiltOnce: an input serializer's fields are built once per thread and handed
to each instance in turn; one instance's values and errors never reach the next, and threads do not
share them."""

from __future__ import annotations

import threading

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
    assert good.fields["data"].child.parent is good.fields["data"]


def test_the_fields_are_built_once_per_thread():
    first, second = InteractionInputSerializer(data={}), InteractionInputSerializer(data={})
    assert first.fields["kind"] is second.fields["kind"]
    other: list = []
    thread = threading.Thread(target=lambda: other.append(InteractionInputSerializer(data={}).fields["kind"]))
    thread.start()
    thread.join()
    assert other[0] is not first.fields["kind"]
