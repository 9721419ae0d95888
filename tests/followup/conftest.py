"""Follow-up fixtures: a prospect made the way production makes one (interactions scored by the
default playbook), and the nurture tests' real SMTP server."""

from __future__ import annotations

import pytest

from tests.nurture.conftest import no_smtp_server, smtp_server, smtp_sink  # noqa: F401 - fixtures shared with nurture

WALK = ("form_submitted", "form_submitted", "price_requested", "demo_requested")


@pytest.fixture
def new_prospect(playbooks, make_contact, log):
    """A contact walked to prospect by its interactions: round-robin gives it an owner."""

    def make(**fields):
        fields.setdefault("industry", "other")
        person = make_contact(**fields)
        for kind in WALK:
            log(person, kind)
        assert person.stage == "prospect"
        return person

    return make
