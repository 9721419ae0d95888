"""Fuzz the whole API from its own OpenAPI schema with schemathesis: no 500s, and every
response (status code, content type, headers, body) conforms to the schema.

Runs in the default test run (marked `slow` only so it can be deselected locally), with a
fixed seed and a bounded number of examples per operation so it stays well under two
minutes. Requests go through the real WSGI application (middleware included) as an admin
with a token, against a database holding contacts, interactions, notes and rule sets."""

from __future__ import annotations

import itertools

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contacts.services import note_add

# Valid requests (positive) and requests that break the schema on purpose (negative),
# with examples per operation.
MODES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.fixture
def wsgi_app():
    """The real WSGI app, sharing this test's database transaction.

    Django closes "old" connections at the start and end of each request; inside a test
    transaction that would close the very connection the test runs in, so (as Django's
    own test client does) those two hooks are switched off for the duration."""
    from crm.wsgi import application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield application
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_data(admin, rep, make_contact, log, playbooks, capture_form):
    for n in range(5):
        contact = make_contact(full_name=f"Fuzz {n}", phone=f"08121000{n:04d}", owner=rep if n % 2 else None)
        log(contact, "price_requested", source="shop", external_id=f"fuzz-{n}")
        note_add(contact=contact, author=admin, body="Seed note")
    return Token.objects.create(user=admin)


@pytest.mark.slow
@pytest.mark.django_db
def test_schemathesis_finds_no_server_errors_and_no_schema_violations(wsgi_app, fuzz_data, settings):
    settings.CRM_PUBLIC_API_DOCS = True  # the schema needs a login by default; the fuzzed operations use the token
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    headers = {"Authorization": f"Token {fuzz_data.key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    failures: list[str] = []
    for operation, mode in itertools.product(operations, MODES):
        @hypothesis.settings(
            max_examples=MODES[mode], deadline=None, derandomize=True, database=None,
            suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        try:
            fuzz()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing in this operation can be made invalid
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect every operation's failure, report all
            failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
