"""What the browser walk-through (tests/browser/test_walkthrough_browser.py) found in English on Indonesian
pages, pinned with the Django client: text stored as data reads in the viewer's language, and Django's own
English (permission names, the admin's search icon) is translated."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_new_prospects_task_reads_in_the_viewers_language(client_for, rep, playbooks, make_contact, log):
    from followup.models import Task
    from followup.services import task_complete

    person = make_contact(full_name="Rina Wijaya", phone="081299990001")
    for kind in ("form_submitted", "price_requested", "demo_requested"):
        log(person, kind)
    task = Task.objects.get(contact=person)
    assert (task.note_message, task.note_params) == ("New prospect: follow up personally within %(hours)d hours.", {"hours": 24})
    assert task.note == "New prospect: follow up personally within 24 hours."  # as written, for the API

    client = client_for(rep)
    indonesian = client.get(reverse("followup:today"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Prospek baru: tindak lanjuti secara personal dalam 24 jam." in indonesian
    assert "New prospect" not in indonesian
    english = client.get(reverse("followup:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "New prospect: follow up personally within 24 hours." in english

    task_complete(task=task, outcome="reached", note="Minta demo hari Selasa", by=rep)
    task.refresh_from_db()
    from django.utils import translation

    with translation.override("id"):  # what the rep added follows the system's sentence
        assert task.text == "Prospek baru: tindak lanjuti secara personal dalam 24 jam.\n\nMinta demo hari Selasa"


def test_a_playbooks_version_note_and_rule_labels_read_in_indonesian(client_for, admin, playbooks):
    from scoring.models import RuleSet

    client = client_for(admin)
    default = RuleSet.objects.get(industry="")
    assert default.active_version.note == "Loaded from the general playbook"  # a msgid
    html = client.get(reverse("rules:version", args=[default.active_version_id]), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Dimuat dari playbook general" in html
    assert "Loaded from the" not in html

    client.post(reverse("rules:edit", args=[default.pk]))
    rule = default.versions.get(status="draft").rules.get(label="Filled a landing-page form")
    data = {"type": "interaction", "label": rule.label, "points": "13", "interaction_kind": rule.interaction_kind_id,
            "window_days": rule.window_days or "", "max_occurrences": rule.max_occurrences or "", "field": "",
            "operator": "", "value": ""}
    response = client.post(reverse("rules:rule_edit", args=[default.pk, rule.pk]), data, HTTP_ACCEPT_LANGUAGE="id",
                           follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1 and messages[0].startswith("Aturan “"), messages
    assert "landing-page form" not in messages[0], messages  # the playbook's label, translated


def test_the_admin_names_permissions_and_models_in_indonesian(client_for, admin, rep):
    html = client_for(admin).get(f"/admin/auth/user/{rep.pk}/change/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Dapat menambah tag" in html and "Dapat mengalihkan kontak ke pemilik lain" in html
    assert "Can add" not in html and "Can reassign" not in html
    assert "tugas impor" in html and "import job" not in html
    changelist = client_for(admin).get("/admin/auth/user/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert 'alt="Cari"' in changelist
    index = client_for(admin).get("/admin/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert ">Tags<" not in index and ">Backtests<" not in index


def test_the_import_pages_help_follows_the_readers_language(client_for, marketer):
    client = client_for(marketer)
    assert "CSV (dipisah koma" in client.get(reverse("import"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "CSV (comma" in client.get(reverse("import"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
