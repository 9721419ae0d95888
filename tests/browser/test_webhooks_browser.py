"""An admin registers a webhook in a real browser, copies the secret shown once, sends a test
event and reads the delivery log; the local receiver verifies the signature with that secret."""

from __future__ import annotations

from tests.webhooks.conftest import receiver  # noqa: F401 - the real local HTTP receiver


def test_admin_registers_a_webhook_and_sends_a_test_event(browse, screenshot, admin, receiver):  # noqa: F811
    page = browse(admin)
    page.goto(page.base + "/webhooks/")
    page.click("text=New webhook")
    page.fill("#id_url", receiver.url())
    page.check("input[name=events][value='contact.stage_changed']")
    page.check("input[name=events][value='contact.erased']")
    page.click("form.card button:has-text('Save')")
    secret = page.inner_text("#webhook-secret").strip()
    assert secret.startswith("whsec_")
    screenshot(page, "webhook-created")
    receiver.secret = secret

    page.click("text=Send test event")
    page.wait_for_selector("td:has-text('webhook.test')")
    (request,) = receiver.to("/hook")
    assert request.verified and request.json()["type"] == "webhook.test"
    row = page.inner_text("table tbody tr")
    assert "Delivered" in row and "200" in row
    assert secret not in page.content()  # shown once
    screenshot(page, "webhook-delivery-log")
    assert page.errors == []
