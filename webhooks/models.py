"""Outbound webhooks: endpoints an admin registers, the outbox of events (written in the
transaction of the change that caused them) and one Delivery per event and endpoint.
Writes go through webhooks.services."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    CONTACT_CREATED = "contact.created", _("Contact created")
    CONTACT_STAGE_CHANGED = "contact.stage_changed", _("Contact stage changed")
    CONTACT_ASSIGNED = "contact.assigned", _("Contact assigned")
    INTERACTION_LOGGED = "interaction.logged", _("Interaction logged")
    TASK_COMPLETED = "task.completed", _("Task completed")
    CONTACT_ERASED = "contact.erased", _("Contact erased")


# Sent only by the "send test event" button, to one endpoint, whatever it subscribes to.
TEST_EVENT = "webhook.test"


class Endpoint(models.Model):
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200)
    events = models.JSONField(_("events"), default=list)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why it was disabled"), max_length=300, blank=True)  # as written (the API)
    # The same reason as a msgid and parameters (crm.texts), so the page reads it in the viewer's language.
    disabled_message = models.CharField(max_length=200, blank=True, default="")
    disabled_params = models.JSONField(default=dict, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Failed attempts in a row (any delivery); a success resets it.
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["url", "id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    @property
    def disabled_text(self) -> str:
        """Why it was disabled, in the active language (an older row's reason as written)."""
        if not self.disabled_message:
            return self.disabled_reason
        from crm.texts import text_render

        return text_render(self.disabled_message, self.disabled_params)

    @property
    def secret_hint(self) -> str:
        """The secret masked: enough to tell two apart, never enough to sign."""
        return f"…{self.secret[-4:]}" if len(self.secret) > 8 else "…"


class Event(models.Model):
    """The outbox: one row per event, its id the receivers' de-duplication key on every attempt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class Delivery(models.Model):
    """One event to one endpoint. Claimed (pending -> sending) before each attempt, so two workers
    never send one attempt twice; after a failure it waits (next_attempt_at) with backoff."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)  # technical detail (the API's `error`)
    # The same failure as a msgid and parameters (crm.texts), read in the viewer's language on the page.
    error_message = models.CharField(max_length=200, blank=True, default="")
    error_params = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.status})"

    @property
    def error_text(self) -> str:
        """Why the last attempt failed, in the active language (an older row: its technical detail)."""
        if not self.error_message:
            return self.error
        from crm.texts import text_render

        return text_render(self.error_message, self.error_params)
