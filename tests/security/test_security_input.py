"""Odd input through the write path: odd Unicode, HTML, SQL- and template-looking strings.
Each value is either refused with a clear error naming the field or stored verbatim
(trimmed), is shown escaped on the contact page and in the admin, and never crashes
the scoring task."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils.html import escape
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contacts.models import Contact
from contacts.services import contact_upsert, interaction_log
from scoring.tasks import score_pending_task

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls_full")]

NASTY = [
    "<script>alert('x')</script>", "\"><img src=x onerror=alert(1)>", "'; DROP TABLE contacts_contact; --",
    "Robert'); DELETE FROM auth_user; --", "{{ request.user.password }}", "{% debug %}", "${jndi:ldap://x/a}",
    "\u202eetouq\u202c", "zero\u200bwidth", "👩🏽‍💻 Siti Nurhaliza", "e\u0301 combining", "\ufeffBOM", "Ünïcödé Çaf\u00e9",
    "line\nbreak", "tab\there", "a\x00b", "%s%s%n", "../../etc/passwd", "NULL", "  spaced  ", "\\x27 backslash \\",
]
odd_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
    st.builds(lambda a, b: a + b, st.sampled_from(NASTY), st.text(max_size=10)),
)
FIELDS = ("full_name", "company", "job_title", "city", "source", "utm_campaign")
_serial = itertools.count(1)


def _page_shows_escaped(client: Client, url: str, value: str) -> None:
    html = client.get(url).content.decode()
    if value.strip() and any(c in value for c in "<>\"'&"):
        assert escape(value.strip()) in html, url
    for raw in ("<script>alert", "<img src=x"):
        if raw in value:
            assert raw not in html, url


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=odd_text, data_value=odd_text)
@example(field="full_name", value="<script>alert('x')</script>", data_value="'; DROP TABLE x; --")
@example(field="company", value="a\x00b", data_value="a\x00b")
def test_odd_values_are_stored_verbatim_or_refused_and_shown_escaped(admin, playbooks, field, value, data_value):
    email = f"odd{next(_serial)}@example.co.id"
    try:
        contact = contact_upsert(data={"email": email, field: value, "attributes": {"catatan": data_value}}).contact
    except ValidationError as exc:
        assert set(exc.message_dict) <= {field, "attributes"}, exc.message_dict  # a clear error naming the field
        return
    contact.refresh_from_db()
    assert getattr(contact, field) == value.strip()
    assert contact.attributes["catatan"] == data_value

    try:
        interaction_log(contact=contact, kind="form_submitted", data={"pesan": data_value, value[:50]: field})
    except ValidationError as exc:
        assert set(exc.message_dict) <= {"data"}, exc.message_dict
    Contact.objects.filter(pk=contact.pk).update(needs_rescore=True)
    score_pending_task.apply(throw=True)  # the worker's code path; must not raise
    assert Contact.objects.get(pk=contact.pk).scored_at is not None

    client = Client()
    client.force_login(admin)
    _page_shows_escaped(client, f"/contacts/{contact.pk}/", value if field == "full_name" else "")
    _page_shows_escaped(client, f"/admin/contacts/contact/{contact.pk}/change/", value)
    _page_shows_escaped(client, f"/contacts/{contact.pk}/privacy/", value if field == "full_name" else "")
