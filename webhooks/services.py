"""Webhook writes: registering and changing endpoints, manual redelivery, the test event, and
disabling an endpoint that keeps failing. Each owns its transaction and audit row."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm import roles
from crm.audit import audit
from crm.models import AuditEvent
from crm.net import AddressRefused
from crm.texts import text_render
from webhooks import http
from webhooks.models import TEST_EVENT, Delivery, Endpoint, Event, EventType
from webhooks.outbox import events_record, queue_sends, subscriptions_changed

log = logging.getLogger(__name__)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook target (in the viewer's language), or None."""
    try:
        http.check_url(url, allow_private=settings.CRM_WEBHOOK_ALLOW_PRIVATE)
    except AddressRefused as exc:
        if str(exc).startswith("cannot resolve"):
            return _("The host of this URL cannot be resolved.")
        return _("This URL points to a private, loopback or reserved address (%(detail)s); webhooks only go to public "
                 "addresses.") % {"detail": str(exc)}
    except ValueError:
        return _("Give an http or https URL with a host name and no password.")
    return None


@transaction.atomic
def endpoint_save(*, data: Mapping[str, Any], by, endpoint: Endpoint | None = None) -> tuple[Endpoint, str | None]:
    """Create or change an endpoint. Returns it and the secret to show once (a new secret: given or
    generated on creation, or given when changing), else None. Re-activating it clears the failure count."""
    errors: dict[str, list[str]] = {}
    url = str(data["url"]).strip() if "url" in data else (endpoint.url if endpoint else "")
    if "url" in data or endpoint is None:
        if problem := (url_problem(url) if url else _("Give the receiver's URL.")):
            errors["url"] = [problem]
    events = list(data["events"]) if "events" in data else (endpoint.events if endpoint else [])
    unknown = [e for e in events if e not in EventType.values]
    if unknown:
        errors["events"] = [_("Unknown event type(s): %(types)s.") % {"types": ", ".join(map(str, unknown))}]
    elif not events:
        errors["events"] = [_("Choose at least one event.")]
    secret = str(data.get("secret") or "").strip()
    if secret and len(secret) < 16:
        errors["secret"] = [_("Use a secret of at least 16 characters (or leave it empty to get one).")]
    if errors:
        raise ValidationError(errors)
    created = endpoint is None
    endpoint = endpoint or Endpoint(created_by=by if getattr(by, "is_authenticated", False) else None)
    shown = secret or (new_secret() if created else None)
    if shown:
        endpoint.secret = shown
    endpoint.url, endpoint.events = url, sorted(set(events), key=EventType.values.index)
    if "is_active" in data:
        active = bool(data["is_active"])
        if active and not endpoint.is_active:
            endpoint.consecutive_failures, endpoint.disabled_reason, endpoint.disabled_at = 0, "", None
            endpoint.disabled_message, endpoint.disabled_params = "", {}
        elif not active and endpoint.is_active:
            endpoint.disabled_message, endpoint.disabled_params = gettext_noop("Disabled by hand."), {}
            endpoint.disabled_reason, endpoint.disabled_at = text_render(endpoint.disabled_message), timezone.now()
        endpoint.is_active = active
    endpoint.save()
    subscriptions_changed()
    audit(by, AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE, endpoint,
          fields=sorted(k for k in data if k != "secret") + (["secret"] if shown else []))
    if endpoint.is_active:
        # Deliveries that waited while it was disabled go now.
        waiting = list(endpoint.deliveries.filter(status=Delivery.Status.PENDING).values_list("pk", flat=True)[:5000])
        if waiting:
            transaction.on_commit(lambda: queue_sends(waiting))
    return endpoint, shown


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint, by) -> None:
    audit(by, AuditEvent.Action.DELETE, endpoint)
    endpoint.delete()
    subscriptions_changed()


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery, by) -> Delivery:
    """Send a delivery again (same event id, a fresh signature), now: a new series of attempts."""
    Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.Status.SENDING).update(
        status=Delivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), error="",
        error_message="", error_params={})
    audit(by, AuditEvent.Action.SEND, delivery, endpoint=delivery.endpoint_id, event=str(delivery.event_id))
    transaction.on_commit(lambda: queue_sends([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def endpoint_send_test(*, endpoint: Endpoint, by) -> Event:
    """A `webhook.test` event to this endpoint only, signed and logged like any other."""
    (event,) = events_record(type=TEST_EVENT, items=[{"endpoint_id": endpoint.pk, "test": True}], endpoints=[endpoint])
    audit(by, AuditEvent.Action.SEND, endpoint, event=str(event.pk))
    return event


def _admin_emails() -> list[str]:
    users = get_user_model().objects.filter(Q(is_superuser=True) | Q(groups__name=roles.ADMIN), is_active=True)
    return sorted({email for email in users.values_list("email", flat=True) if email})


@transaction.atomic
def endpoint_disable_failing(*, endpoint_id: int) -> bool:
    """Disable an endpoint after too many failures in a row, once (a conditional UPDATE), and
    email the admins after commit. Its pending deliveries wait until it is enabled again."""
    limit = settings.CRM_WEBHOOK_DISABLE_AFTER
    message, params = gettext_noop("%(count)d failed attempts in a row."), {"count": limit}
    with translation.override(settings.LANGUAGE_CODE):
        reason = text_render(message, params)  # as written, for the API; the pages read the message
    if not Endpoint.objects.filter(pk=endpoint_id, is_active=True).update(
            is_active=False, disabled_reason=reason, disabled_message=message, disabled_params=params,
            disabled_at=timezone.now()):
        return False
    subscriptions_changed()
    endpoint = Endpoint.objects.get(pk=endpoint_id)
    audit(None, AuditEvent.Action.CHANGE, endpoint, fields=["is_active"], reason="failures")
    transaction.on_commit(lambda: _tell_admins(endpoint))
    return True


def _tell_admins(endpoint: Endpoint) -> None:
    recipients = _admin_emails()
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Webhook disabled: %(url)s") % {"url": endpoint.url}
        body = _("The webhook endpoint %(url)s failed %(count)d times in a row and was disabled. Its events wait; "
                 "enable it again on %(page)s once the receiver works.") % {
            "url": endpoint.url, "count": settings.CRM_WEBHOOK_DISABLE_AFTER,
            "page": f"{settings.CRM_BASE_URL}/webhooks/{endpoint.pk}/"}
    try:
        send_mail(subject, body, settings.CRM_EMAIL_FROM, recipients)
    except Exception as exc:  # noqa: BLE001 - the endpoint stays disabled; the page shows why
        log.warning("Could not email admins about webhook %s (%s)", endpoint.pk, type(exc).__name__)
