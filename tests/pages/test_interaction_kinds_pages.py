"""Issue 18, defect 8: "Log interaction" on the contact page lists the contact's industry's
kinds first (what its rule set scores or counts as conversion, and what a rep logs for
anyone), then every other kind under an "Other interactions" optgroup, in both languages."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from contacts.catalog import EVERY_INDUSTRY
from contacts.models import Interaction, InteractionKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]


class KindSelect(HTMLParser):
    """The options of <select name="kind">: (optgroup label or "", value, text)."""

    def __init__(self):
        super().__init__()
        self.inside, self.group, self.options, self._option = False, "", [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select" and attrs.get("name") == "kind":
            self.inside = True
        elif self.inside and tag == "optgroup":
            self.group = attrs.get("label", "")
        elif self.inside and tag == "option":
            self._option = [self.group, attrs.get("value"), ""]

    def handle_data(self, data):
        if self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None:
            self.options.append(tuple(self._option))
            self._option = None
        elif tag == "optgroup":
            self.group = ""
        elif tag == "select":
            self.inside = False


def kind_options(client, contact, **headers) -> list[tuple[str, str, str]]:
    response = client.get(reverse("contacts:detail", kwargs={"pk": contact.pk}), **headers)
    assert response.status_code == 200
    parser = KindSelect()
    parser.feed(response.content.decode())
    assert parser.options, "the page has the Log interaction select"
    return parser.options


def test_an_education_contact_sees_education_kinds_first_and_the_rest_under_other(playbooks, make_contact, client_for,
                                                                                   rep):
    student = make_contact(full_name="Dimas", industry="education", owner=rep)
    options = kind_options(client_for(rep), student)
    first = [value for group, value, _text in options if group == ""]
    other = [value for group, value, _text in options if group == "Other interactions"]
    assert {"curriculum_consultation", "brochure_requested", "seminar_registered", "enrolled"} <= set(first)
    assert "whatsapp_sent" in first  # a rep's own action, for every industry
    # Other industries' kinds are still there, but under "Other".
    assert {"checkup_form_submitted", "checkout_started", "cart_added", "demo_requested"} <= set(other)
    assert not set(first) & set(other)
    assert sorted(first + other) == sorted(InteractionKind.objects.values_list("slug", flat=True))
    # The first group comes first, and each group reads in label order.
    assert [o[0] for o in options] == [""] * len(first) + ["Other interactions"] * len(other)
    first_labels = [text for group, _v, text in options if group == ""]
    assert first_labels == sorted(first_labels, key=str.lower)


def test_another_industry_gets_its_own_first_group(playbooks, make_contact, client_for, rep):
    patient = make_contact(full_name="Wulan", industry="healthcare", owner=rep)
    options = kind_options(client_for(rep), patient)
    first = {value for group, value, _text in options if group == ""}
    assert {"checkup_form_submitted", "appointment_booked"} <= first
    assert "curriculum_consultation" not in first and "checkout_started" not in first


def test_a_kind_added_to_the_catalog_for_every_industry_is_listed_first(playbooks, make_contact, client_for, rep):
    """Kinds like call_made / meeting_held (a rep's calls and meetings) are grouped by slug:
    when they exist in the catalog they are first for everyone, scored or not."""
    InteractionKind.objects.get_or_create(slug="call_made", defaults={
        "name": "Call made", "name_id": "Menelepon", "intent_level": "interest"})
    InteractionKind.objects.get_or_create(slug="meeting_held", defaults={
        "name": "Meeting held", "name_id": "Rapat diadakan", "intent_level": "intent"})
    buyer = make_contact(full_name="Tono", industry="ecommerce", owner=rep)
    first = {value for group, value, _text in kind_options(client_for(rep), buyer) if group == ""}
    assert {"call_made", "meeting_held", "whatsapp_sent", "checkout_started", "purchase"} <= first


def test_without_any_published_rule_set_the_list_is_flat(make_contact, client_for, rep):
    contact = make_contact(full_name="Ani", industry="b2b", owner=rep)
    InteractionKind.objects.filter(slug__in=EVERY_INDUSTRY).delete()  # the rep's own actions always come first
    options = kind_options(client_for(rep), contact)
    assert {group for group, _v, _t in options} == {""}


def test_indonesian_page_names_the_group_and_the_kinds_in_indonesian(playbooks, make_contact, client_for, rep):
    student = make_contact(full_name="Dimas", industry="education", owner=rep)
    options = kind_options(client_for(rep), student, HTTP_ACCEPT_LANGUAGE="id")
    groups = {group for group, _v, _t in options}
    assert groups == {"", "Interaksi lainnya"}
    texts = {value: text for _g, value, text in options}
    assert texts["curriculum_consultation"] == "Konsultasi kurikulum"


def test_logging_a_kind_from_the_other_group_still_works(playbooks, make_contact, client_for, rep):
    student = make_contact(full_name="Dimas", industry="education", owner=rep)
    response = client_for(rep).post(reverse("contacts:log_interaction", kwargs={"pk": student.pk}),
                                    {"kind": "checkout_started", "channel": "web"})
    assert response.status_code == 302
    assert Interaction.objects.filter(contact=student, kind_id="checkout_started").exists()
