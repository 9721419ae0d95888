"""A rep's follow-up in the browser: a new prospect is assigned by round-robin, the bell shows the
notification (and the email is on the real SMTP server), the rep opens Today and logs the call's
outcome in place, without opening the contact."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_new_prospect_bell_today_and_the_call_logged_in_place(browse, screenshot, rep, playbooks, make_contact,
                                                                smtp_server):
    from contacts.models import Interaction
    from contacts.services import interaction_log
    from followup.models import Task

    rep.email = "sari@saring.example"
    rep.save()
    page = browse(rep)
    expect(page.locator("#bell")).to_be_visible()
    expect(page.locator("#bell .bell-count")).to_have_count(0)

    person = make_contact(full_name="Rina Wijaya", phone="0812-3456-7890", industry="other")
    for kind in ("form_submitted", "form_submitted", "price_requested", "demo_requested"):
        interaction_log(contact=person, kind=kind)  # autocommit: scoring and the email run at once
    person.refresh_from_db()
    assert person.stage == "prospect" and person.owner == rep
    assert [m["To"] for m in smtp_server.messages()] == ["sari@saring.example"]

    page.reload()
    expect(page.locator("#bell .bell-count")).to_have_text("1")
    page.locator("#bell").click()
    expect(page.locator("#notifications")).to_contain_text("New prospect Rina Wijaya was assigned to you.")
    screenshot(page, "followup_notifications")

    page.get_by_role("link", name="Today", exact=True).click()
    task = Task.objects.get(contact=person)
    row = page.locator(f"#task-{task.pk}")
    expect(row).to_contain_text("Rina Wijaya")
    row.get_by_label("Outcome for Rina Wijaya").select_option("meeting_booked")
    row.get_by_label("Note for Rina Wijaya").fill("Demo on Tuesday 10:00")
    screenshot(page, "followup_today")
    row.get_by_role("button", name="Done").click()
    # The swapped row: the form is gone, the outcome shows (the select's options held the words before).
    expect(page.locator(f"#task-{task.pk} [role=status]")).to_contain_text("Meeting booked")
    expect(page.locator(f"#task-{task.pk} form")).to_have_count(0)
    assert page.url.endswith("/today/"), "completed in place"
    task.refresh_from_db()
    assert task.outcome == "meeting_booked" and task.done_by == rep and "Demo on Tuesday" in task.note
    assert Interaction.objects.filter(contact=person, kind="call_made").count() == 1
    assert page.errors == []
