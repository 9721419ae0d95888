"""The authorization matrix as data: every URL pattern × role × own/other object.

Key: the URL name with its namespace ("contacts:detail", "contact-list"), or for an
unnamed pattern its full route. The whole Django admin is one key, "admin:*", checked
through a few representative pages. test_security_authz.py fails when a URL pattern of
the project has no key here, so a new page or endpoint must be added with its expectations.

Expectations, per role (`anonymous`, `sales`, `marketer`, `admin`):
- an int: that exact status;
- LOGIN: a redirect to the login page (pages) / ADMIN_LOGIN for the Django admin;
- ALLOW: access granted (2xx, a redirect that is not to a login page, or a 400/409 saying
  the submitted data is wrong, which only someone allowed in gets to see);
- a pair (own, other): the first for the user's own object, the second for someone else's.

Objects (`kw` maps a URL kwarg to one; "@name" in `data` is replaced by its id):
contact (owned by the user, or by a stranger of the same role), note and interaction (on
that contact), contact_merge (a merge into that contact, too old to undo), import_job, run and segment (created/started by the user or the stranger), ruleset,
version and rule (the default rule set, its published version, a rule of its draft: the
same for everyone), kind (the page_viewed slug), custom_field (a text custom field, the same for everyone). Anonymous requests use the sales rep's objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LOGIN = "login"
ADMIN_LOGIN = "admin-login"
ALLOW = "allow"

Expect = int | str | tuple[int | str, int | str]


@dataclass(frozen=True)
class Row:
    method: str = "GET"
    anonymous: Expect = LOGIN
    sales: Expect = 200
    marketer: Expect = 200
    admin: Expect = 200
    kw: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    json: bool = False  # send `data` as a JSON body (API)
    path: str | None = None  # for unnamed patterns: the literal path to request


CONTACT = {"pk": "contact"}
SEGMENT = {"pk": "segment"}
TASK = {"pk": "task"}
NOTIFICATION = {"pk": "notification"}
ADMIN_ONLY = {"sales": 403, "marketer": 403, "admin": ALLOW}
IO = {"sales": 403, "marketer": ALLOW, "admin": ALLOW}  # import/export: admins and marketers
API_ANON = 401

MATRIX: dict[str, list[Row]] = {
    # --- Project level -----------------------------------------------------------------
    "healthz": [Row(anonymous=200)],
    "login": [Row(anonymous=200, sales=ALLOW, marketer=ALLOW, admin=ALLOW)],
    "logout": [Row("POST", anonymous=LOGIN, sales=LOGIN, marketer=LOGIN, admin=LOGIN)],  # LOGOUT_REDIRECT_URL
    "profile": [Row()],
    "set_language": [Row("POST", anonymous=ALLOW, sales=ALLOW, marketer=ALLOW, admin=ALLOW, data={"language": "en"})],
    "home": [Row()],
    "admin:*": [
        Row(path="/admin/", anonymous=ADMIN_LOGIN, sales=ADMIN_LOGIN, marketer=ADMIN_LOGIN, admin=200),
        Row(path="/admin/contacts/contact/", anonymous=ADMIN_LOGIN, sales=ADMIN_LOGIN, marketer=ADMIN_LOGIN, admin=200),
        Row(path="/admin/contacts/contact/{pk}/change/", kw=CONTACT,
            anonymous=ADMIN_LOGIN, sales=ADMIN_LOGIN, marketer=ADMIN_LOGIN, admin=200),
        # Admins read the audit log and consent evidence in the admin too (read-only there).
        Row(path="/admin/crm/auditevent/", anonymous=ADMIN_LOGIN, sales=ADMIN_LOGIN, marketer=ADMIN_LOGIN, admin=200),
        Row(path="/admin/contacts/consentrecord/", anonymous=ADMIN_LOGIN, sales=ADMIN_LOGIN, marketer=ADMIN_LOGIN, admin=200),
        Row(path="/admin/auth/user/", anonymous=ADMIN_LOGIN, sales=ADMIN_LOGIN, marketer=ADMIN_LOGIN, admin=200),
    ],

    # --- REST API (token or session) -------------------------------------------------------
    # A login unless CRM_PUBLIC_API_DOCS=1.
    "api-schema": [Row(anonymous=API_ANON)],
    "api-docs": [Row(anonymous=LOGIN)],
    # Capture takes a form key or an API token, never a session: a logged-in browser is anonymous here.
    "capture": [Row("POST", anonymous=API_ANON, sales=API_ANON, marketer=API_ANON, admin=API_ANON,
                    data={"email": "new@example.co.id"}, json=True)],
    "contact-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=201, marketer=201, admin=201, data={"full_name": "Baru"}, json=True),
    ],
    "contact-detail": [
        Row(anonymous=API_ANON, sales=(200, 404), kw=CONTACT),
        Row("PATCH", anonymous=API_ANON, sales=(200, 404), kw=CONTACT, data={"city": "Bandung"}, json=True),
    ],
    "interaction-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=(201, 400), marketer=201, admin=201,
            data={"contact": "@contact", "kind": "page_viewed"}, json=True),
    ],
    "interaction-detail": [Row(anonymous=API_ANON, sales=(200, 404), kw={"pk": "interaction"})],
    "note-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=(201, 400), marketer=201, admin=201,
            data={"contact": "@contact", "body": "Called back"}, json=True),
    ],
    "note-detail": [Row(anonymous=API_ANON, sales=(200, 404), kw={"pk": "note"})],
    # The content library: marketers and admins write, everyone reads; sending: whoever may change the contact.
    "message-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=403, marketer=201, admin=201, json=True, data={
            "name": "Hai", "channel": "whatsapp", "purpose": "first_touch", "body": "Halo {{ first_name }}"}),
    ],
    "message-detail": [
        Row(anonymous=API_ANON, kw={"pk": "message"}),
        Row("PATCH", anonymous=API_ANON, sales=403, kw={"pk": "message"}, data={"name": "Baru"}, json=True),
        Row("DELETE", anonymous=API_ANON, sales=403, marketer=204, admin=204, kw={"pk": "message"}),
    ],
    "sequence-list": [
        Row(anonymous=API_ANON),
        # (nested "@message" is not substituted: the body is refused as data, which only writers get to see)
        Row("POST", anonymous=API_ANON, sales=403, marketer=ALLOW, admin=ALLOW, json=True, data={
            "name": "Sapa", "trigger_stage": "contact", "steps": [{"wait_days": 0, "message": 1}]}),
    ],
    "sequence-detail": [
        Row(anonymous=API_ANON, kw={"pk": "sequence"}),
        Row("PATCH", anonymous=API_ANON, sales=403, kw={"pk": "sequence"}, data={"is_paused": True}, json=True),
    ],
    "campaign-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=403, marketer=201, admin=201, json=True,
            data={"message": "@message", "segment": "@segment"}),
    ],
    "campaign-detail": [Row(anonymous=API_ANON, kw={"pk": "campaign"})],
    "campaign-preview": [Row(anonymous=API_ANON, kw={"pk": "campaign"})],
    "campaign-send": [Row("POST", anonymous=API_ANON, sales=403, marketer=202, admin=202, kw={"pk": "campaign"})],
    "api-contact-send": [Row("POST", anonymous=API_ANON, sales=(202, 404), marketer=202, admin=202, kw=CONTACT,
                             data={"message": "@message"}, json=True)],
    "custom-field-list": [Row(anonymous=API_ANON)],
    "interaction-kind-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=403, marketer=403, admin=201,
            data={"slug": "kiosk_visit", "name": "Kiosk visit", "intent_level": "interest"}, json=True),
    ],
    "interaction-kind-detail": [Row(anonymous=API_ANON, kw={"pk": "kind"})],
    # Saved segments: shared; marketers and admins write, everyone reads (a rep: own contacts in it).
    "segment-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=403, marketer=201, admin=201,
            data={"name": "Leads baru", "filters": {"stage": "lead"}}, json=True),
    ],
    "segment-detail": [
        Row(anonymous=API_ANON, kw=SEGMENT),
        Row("PATCH", anonymous=API_ANON, sales=403, marketer=200, admin=200, kw=SEGMENT, data={"name": "Renamed"}, json=True),
        Row("PUT", anonymous=API_ANON, sales=403, marketer=200, admin=200, kw=SEGMENT,
            data={"name": "Replaced", "filters": {"industry": "b2b"}}, json=True),
        Row("DELETE", anonymous=API_ANON, sales=403, marketer=204, admin=204, kw=SEGMENT),
    ],
    "segment-contacts": [Row(anonymous=API_ANON, kw=SEGMENT)],
    "funnel": [Row(anonymous=API_ANON)],
    "ruleset-list": [Row(anonymous=API_ANON, sales=403)],
    "ruleset-detail": [Row(anonymous=API_ANON, sales=403, kw={"pk": "ruleset"})],
    "ruleset-draft": [
        Row(anonymous=API_ANON, sales=403, kw={"pk": "ruleset"}),
        Row("PATCH", anonymous=API_ANON, sales=403, marketer=403, admin=ALLOW, kw={"pk": "ruleset"},
            data={"lead_threshold": 25}, json=True),
    ],
    "ruleset-preview": [Row("POST", anonymous=API_ANON, sales=403, marketer=403, admin=200, kw={"pk": "ruleset"}, json=True)],
    "ruleset-publish": [Row("POST", anonymous=API_ANON, sales=403, marketer=403, admin=ALLOW, kw={"pk": "ruleset"}, json=True)],
    # Webhook endpoints: admins only (the URL here is refused as private: a 400 only an admin gets to see).
    "webhook-list": [
        Row(anonymous=API_ANON, sales=403, marketer=403, admin=200),
        Row("POST", anonymous=API_ANON, sales=403, marketer=403, admin=ALLOW, json=True,
            data={"url": "http://127.0.0.1:9/hook", "events": ["contact.created"]}),
    ],
    "webhook-detail": [
        Row(anonymous=API_ANON, sales=403, marketer=403, admin=200, kw={"pk": "endpoint"}),
        Row("PATCH", anonymous=API_ANON, sales=403, marketer=403, admin=200, kw={"pk": "endpoint"},
            data={"is_active": False}, json=True),
        Row("DELETE", anonymous=API_ANON, sales=403, marketer=403, admin=204, kw={"pk": "endpoint"}),
    ],
    "webhook-deliveries": [Row(anonymous=API_ANON, sales=403, marketer=403, admin=200, kw={"pk": "endpoint"})],
    "api/^": [Row(path="/api/no-such-endpoint/", anonymous=404, sales=404, marketer=404, admin=404)],

    # --- Contact pages ----------------------------------------------------------------------
    "contacts:list": [Row()],
    "bulk:start": [Row("POST", sales=(ALLOW, 403), marketer=ALLOW, admin=ALLOW,
                       data={"ids": "@contact", "action": "tag", "tag": "vip"}),
                   Row("POST", sales=403, marketer=ALLOW, admin=ALLOW,
                       data={"ids": "@contact", "action": "sequence"}),
                   Row("POST", sales=403, marketer=403, admin=ALLOW, data={"ids": "@contact", "action": "erase"})],
    # A bulk action's preview is its author's only (another user of any role: 404); erase: admins.
    "bulk:preview": [Row(sales=(200, 404), marketer=(200, 404), admin=(200, 404), kw={"pk": "bulk_action"}),
                     Row("POST", sales=(ALLOW, 404), marketer=(ALLOW, 404), admin=(ALLOW, 404), kw={"pk": "bulk_action"},
                         data={"tag": "vip"}),
                     Row(sales=(403, 404), marketer=(403, 404), admin=(200, 404), kw={"pk": "bulk_erase"})],
    "contacts:detail": [Row(sales=(200, 404), kw=CONTACT)],
    "nurture:message_list": [Row()],
    "nurture:message_new": [Row(sales=403)],
    "nurture:message_edit": [Row(sales=403, kw={"pk": "message"})],
    "nurture:message_archive": [Row("POST", sales=403, marketer=ALLOW, admin=ALLOW, kw={"pk": "message"})],
    "nurture:sequence_list": [Row()],
    "nurture:sequence_new": [Row(sales=403)],
    "nurture:sequence_edit": [Row(sales=403, kw={"pk": "sequence"})],
    "nurture:sequence_pause": [Row("POST", sales=403, marketer=ALLOW, admin=ALLOW, kw={"pk": "sequence"})],
    "nurture:campaign_list": [Row()],
    "nurture:campaign_new": [Row("POST", sales=403, marketer=ALLOW, admin=ALLOW,
                                 data={"message": "@message", "segment": "@segment"})],
    "nurture:campaign_detail": [Row(kw={"pk": "campaign"})],
    "nurture:campaign_status": [Row(kw={"pk": "campaign"})],
    "nurture:campaign_send": [Row("POST", sales=403, marketer=ALLOW, admin=ALLOW, kw={"pk": "campaign"})],
    "nurture:contact_send": [Row("POST", sales=(ALLOW, 404), marketer=ALLOW, admin=ALLOW, kw=CONTACT,
                                 data={"message": "@message"})],
    "custom_fields:list": [Row(**ADMIN_ONLY)],
    "custom_fields:new": [Row(**ADMIN_ONLY)],
    "custom_fields:edit": [Row(**ADMIN_ONLY, kw={"pk": "custom_field"})],
    "custom_fields:set_active": [Row("POST", **ADMIN_ONLY, kw={"pk": "custom_field"}, data={"active": "1"})],
    # Editing one field of a contact in place: whoever may change the contact.
    "custom_fields:contact_field": [
        Row(sales=(200, 404), kw={"pk": "contact", "name": "=company"}),
        Row("POST", sales=(ALLOW, 404), marketer=ALLOW, admin=ALLOW, kw={"pk": "contact", "name": "=company"},
            data={"company": "PT Authz"}),
    ],
    "webhooks:list": [Row(**ADMIN_ONLY)],
    "webhooks:new": [Row(**ADMIN_ONLY)],
    "webhooks:detail": [Row(**ADMIN_ONLY, kw={"pk": "endpoint"})],
    "webhooks:edit": [Row(**ADMIN_ONLY, kw={"pk": "endpoint"})],
    "webhooks:test": [Row("POST", **ADMIN_ONLY, kw={"pk": "endpoint"})],
    "webhooks:delete": [Row("POST", **ADMIN_ONLY, kw={"pk": "endpoint"})],
    "webhooks:redeliver": [Row("POST", **ADMIN_ONLY, kw={"pk": "webhook_delivery"})],
    # Links inside emails: public, and only a valid signature does anything.
    "nurture:click": [Row(anonymous=404, sales=404, marketer=404, admin=404, kw={"token": "=forged"})],
    "nurture:open": [Row(anonymous=200, sales=200, marketer=200, admin=200, kw={"token": "=forged"})],
    "nurture:unsubscribe": [Row(anonymous=404, sales=404, marketer=404, admin=404, kw={"token": "=forged"}),
                            Row("POST", anonymous=404, sales=404, marketer=404, admin=404, kw={"token": "=forged"})],
    "contacts:edit": [Row(sales=(200, 404), kw=CONTACT)],
    "contacts:log_interaction": [Row("POST", sales=(ALLOW, 404), marketer=ALLOW, admin=ALLOW, kw=CONTACT,
                                     data={"kind": "page_viewed", "channel": "web"})],
    "contacts:add_note": [Row("POST", sales=(ALLOW, 404), marketer=ALLOW, admin=ALLOW, kw=CONTACT, data={"body": "Called"})],
    "contacts:complete_note": [Row("POST", sales=(ALLOW, 404), marketer=ALLOW, admin=ALLOW,
                                   kw={"pk": "contact", "note_id": "note"})],
    "contacts:set_stage": [Row("POST", sales=(ALLOW, 404), marketer=ALLOW, admin=ALLOW, kw=CONTACT, data={"stage": "lead"})],
    "contacts:unpin": [Row("POST", sales=(ALLOW, 404), marketer=ALLOW, admin=ALLOW, kw=CONTACT)],
    # Reassigning needs a sales manager or an admin.
    "contacts:assign_owner": [Row("POST", sales=(403, 404), marketer=403, admin=ALLOW, kw=CONTACT, data={"owner": ""})],
    "contacts:my_prospects": [Row(sales=200, marketer=403, admin=403)],
    # Issue 20: the new-contact page and its duplicate check (marketers, reps, admins), the
    # WhatsApp click (a GET that needs the page's signed token: without it 403, even for admins).
    "contacts:new": [
        Row(),
        Row("POST", sales=ALLOW, marketer=ALLOW, admin=ALLOW, data={"full_name": "Baru Sekali", "industry": "other"}),
    ],
    "contacts:new_check": [Row("POST", sales=200, marketer=200, admin=200, data={"email": "baru@contoh.co.id"})],
    "nurture:whatsapp": [Row(sales=(403, 404), marketer=403, admin=403, kw=CONTACT)],
    "search": [Row(), Row(path="/search/?q=kontak")],
    "contacts:quick_note": [Row("POST", sales=(ALLOW, 404), marketer=403, admin=403, kw=CONTACT, data={"body": "Called"})],

    # --- Segment pages -----------------------------------------------------------------------
    "segments:list": [Row()],
    "segments:create": [
        Row(sales=403),
        Row("POST", sales=403, marketer=ALLOW, admin=ALLOW, data={"name": "Dari daftar", "query": "stage=lead"}),
    ],
    "segments:edit": [
        Row(sales=403, kw=SEGMENT),
        Row("POST", sales=403, marketer=ALLOW, admin=ALLOW, kw=SEGMENT, data={"name": "Renamed", "stage": "lead"}),
    ],
    "segments:delete": [Row(sales=403, kw=SEGMENT), Row("POST", sales=403, marketer=302, admin=302, kw=SEGMENT)],

    # --- Import, export, duplicates ------------------------------------------------------------
    "import": [Row(**IO)],
    "import_progress": [Row(**IO, kw={"pk": "import_job"})],
    "import_mapping": [Row(**IO, kw={"pk": "import_job"})],
    "import_mapping_json": [Row(**IO, kw={"pk": "import_job"})],
    "import_status": [Row(**IO, kw={"pk": "import_job"})],
    "import_errors": [Row(**IO, kw={"pk": "import_job"})],
    "import_warnings": [Row(**IO, kw={"pk": "import_job"})],
    "import_restart": [Row("POST", **IO, kw={"pk": "import_job"})],
    "export": [Row(**IO)],
    "duplicates": [Row(**IO)],
    "merge": [Row("POST", **IO, data={})],
    "merge_preview": [Row(**IO, kw={"keep": "contact", "other": "contact"})],
    "merge_undo": [Row(**IO, kw={"pk": "contact_merge"}), Row("POST", **IO, kw={"pk": "contact_merge"})],

    # --- Rules (admins) ------------------------------------------------------------------------
    "rules:index": [Row(**ADMIN_ONLY)],
    "rules:playbook": [Row("POST", **ADMIN_ONLY, data={"name": "general"})],
    "rules:edit": [Row("POST", **ADMIN_ONLY, kw={"ruleset_id": "ruleset"})],
    "rules:draft": [Row(**ADMIN_ONLY, kw={"ruleset_id": "ruleset"})],
    "rules:rule_add": [Row("POST", **ADMIN_ONLY, kw={"ruleset_id": "ruleset"}, data={})],
    "rules:rule_edit": [Row(**ADMIN_ONLY, kw={"ruleset_id": "ruleset", "rule_id": "rule"})],
    "rules:rule_delete": [Row("POST", **ADMIN_ONLY, kw={"ruleset_id": "ruleset", "rule_id": "rule"})],
    "rules:preview": [Row(**ADMIN_ONLY, kw={"ruleset_id": "ruleset"})],
    "rules:publish": [Row("POST", **ADMIN_ONLY, kw={"ruleset_id": "ruleset"})],
    "rules:version": [Row(**ADMIN_ONLY, kw={"version_id": "version"})],
    "rules:rollback_preview": [Row(**ADMIN_ONLY, kw={"version_id": "version"})],
    "rules:rollback": [Row("POST", **ADMIN_ONLY, kw={"version_id": "version"})],
    "rules:progress": [Row(**ADMIN_ONLY, kw={"run_id": "run"})],
    "rules:backtest_new": [Row(**ADMIN_ONLY, kw={"version_id": "version"})],
    "rules:backtest": [Row(**ADMIN_ONLY, kw={"backtest_id": "backtest"})],
    "rules:backtest_status": [Row(**ADMIN_ONLY, kw={"backtest_id": "backtest"})],
    "rules:advisor_new": [Row(**ADMIN_ONLY, kw={"ruleset_id": "ruleset"})],
    "rules:advisor": [Row(**ADMIN_ONLY, kw={"backtest_id": "advisor"})],

    # --- Personal data and audit (contacts/privacy/urls.py, crm/audit/urls.py) -------------------
    "privacy:overview": [Row(sales=403, kw=CONTACT)],
    "privacy:consent_withdraw": [Row("POST", sales=403, marketer=302, admin=302, kw={**CONTACT, "channel": "=email"})],
    "privacy:profiling": [Row("POST", sales=403, marketer=403, admin=302, kw=CONTACT, data={"objects": "1"})],
    "privacy:access": [Row(sales=403, marketer=403, admin=200, kw=CONTACT)],
    "privacy:erase": [
        Row(sales=403, marketer=403, admin=200, kw=CONTACT),
        Row("POST", sales=403, marketer=403, admin=302, kw=CONTACT, data={"mode": "anonymise", "confirm": "on"}),
    ],
    "audit:list": [Row(sales=403, marketer=403, admin=200)],
    "reports": [Row(sales=403, marketer=200, admin=200)],

    # --- Follow-up: Today, tasks, notifications (followup/urls.py, followup/api.py) ---------------
    # Today and tasks are for reps, managers and admins; marketers read tasks over the API only.
    "followup:today": [Row(marketer=403)],
    "followup:task_complete": [Row("POST", sales=(ALLOW, 404), marketer=403, admin=ALLOW, kw=TASK,
                                   data={"outcome": "reached"})],
    "followup:task_add": [Row("POST", sales=(ALLOW, 404), marketer=403, admin=ALLOW, kw=CONTACT,
                              data={"type": "call", "due_at": "2026-12-10T10:00"})],
    # Notifications are always the caller's own: someone else's is a 404 for every role.
    "followup:notifications": [Row()],
    "followup:bell": [Row()],
    "followup:notification_read": [Row("POST", sales=(ALLOW, 404), marketer=(ALLOW, 404), admin=(ALLOW, 404),
                                       kw=NOTIFICATION)],
    "followup:notifications_read_all": [Row("POST", sales=ALLOW, marketer=ALLOW, admin=ALLOW)],
    "followup:email_preferences": [Row("POST", sales=ALLOW, marketer=ALLOW, admin=ALLOW, data={"digest": "on"})],
    "task-list": [
        Row(anonymous=API_ANON),
        Row("POST", anonymous=API_ANON, sales=(201, 404), marketer=403, admin=201, json=True,
            data={"contact": "@contact", "type": "call", "due_at": "2026-12-10T10:00:00+07:00"}),
    ],
    "task-detail": [Row(anonymous=API_ANON, sales=(200, 404), kw=TASK)],
    "task-complete": [Row("POST", anonymous=API_ANON, sales=(200, 404), marketer=403, admin=200, kw=TASK,
                          data={"outcome": "no_answer"}, json=True)],
    "notification-list": [Row(anonymous=API_ANON)],
    "notification-detail": [Row(anonymous=API_ANON, sales=(200, 404), marketer=(200, 404), admin=(200, 404),
                                kw=NOTIFICATION)],
    "notification-read": [Row("POST", anonymous=API_ANON, sales=(200, 404), marketer=(200, 404), admin=(200, 404),
                              kw=NOTIFICATION)],
    "notification-read-all": [Row("POST", anonymous=API_ANON, json=True, data={})],
}
