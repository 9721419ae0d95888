"""Django admin: every model is registered and its list and add/change pages render for an admin."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

OUR_APPS = ("contacts", "scoring", "crm")


def test_every_model_is_registered():
    missing = [m._meta.label for app in OUR_APPS for m in apps.get_app_config(app).get_models() if m not in admin.site._registry]
    # Implementation details: RescoreRun shows its chunks and ImportJob its rows done; the stage rollup is read
    # through the dashboard; the search text is the contact's own columns, kept by triggers (contacts.search_text).
    allowed = {"scoring.RescoreChunk", "contacts.ImportChunk", "contacts.StageCount", "contacts.StageMove",
               "contacts.ContactSearch"}
    assert set(missing) <= allowed, missing


def test_admin_changelists_render(client, admin, make_contact, playbooks, log):
    person = make_contact(industry="other")
    log(person, "form_submitted")
    client.force_login(admin)
    admin.is_superuser = True
    admin.save()
    for model in admin_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("admin:contacts_contact_change", args=[person.pk])).status_code == 200
    assert client.get(reverse("admin:contacts_contact_changelist"), {"q": "kontak"}).status_code == 200


def admin_models():
    return [m for m in admin.site._registry if m._meta.app_label in OUR_APPS]


@pytest.mark.django_db
def test_admin_names_read_well_in_indonesian(client, admin):
    """A model with a translated name names its plural too: Django's default adds an "s" to the
    translation ("Profil saless")."""
    missing = [m._meta.label for m in apps.get_models() if m._meta.app_label in {"crm", "contacts", "scoring", "nurture",
               "followup", "webhooks"} and "verbose_name" in m._meta.original_attrs
               and "verbose_name_plural" not in m._meta.original_attrs]
    assert missing == []
    client.force_login(admin)
    html = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Profil sales" in html and "saless" not in html


# What a superuser may do on each registered admin page: (add, change, delete). Every registered
# model must be listed, so a new admin page (or one that loses its read-only base) is a decision
# made here, not a writable page nobody noticed. Models written by a service that audits them are
# read-only here (crm.admin_base).
ALL = (True, True, True)
ADMIN_PERMISSIONS = {
    # Ours: read-only or partly so.
    "crm.AuditEvent": (False, False, False),  # append-only
    "crm.BulkAction": (False, False, True),  # previewed and confirmed on the contact list
    "contacts.StageChange": (True, False, True),  # history is never edited
    "contacts.ConsentRecord": (False, False, True),  # evidence, added by contacts.services.consent only
    "contacts.Segment": (False, False, False),  # written on /segments/ and the API (audited)
    "contacts.CustomField": (False, False, False),  # defined on /settings/fields/ (audited)
    "followup.Notification": (False, False, True),
    # Ours: editable.
    "crm.SalesRepProfile": ALL, "contacts.Contact": ALL, "contacts.Interaction": ALL, "contacts.InteractionKind": ALL,
    "contacts.Note": ALL, "contacts.Tag": ALL, "contacts.CaptureForm": ALL, "contacts.ImportJob": ALL,
    "contacts.ContactMerge": ALL, "scoring.RuleSet": ALL, "scoring.RuleSetVersion": ALL, "scoring.RescoreRun": ALL,
    "scoring.Backtest": ALL, "scoring.Rule": ALL, "followup.Task": ALL, "followup.EmailPreferences": ALL,
    "auth.User": ALL, "auth.Group": ALL,
    # Third-party admins, as their packages ship them.
    "authtoken.TokenProxy": ALL, "django_celery_beat.PeriodicTask": ALL, "django_celery_beat.ClockedSchedule": ALL,
    "django_celery_beat.CrontabSchedule": ALL, "django_celery_beat.SolarSchedule": ALL,
    "django_celery_beat.IntervalSchedule": ALL, "axes.AccessAttempt": (False, True, True),
    "axes.AccessLog": (False, True, True), "axes.AccessFailureLog": (False, True, True),
}


def test_every_admin_page_allows_what_it_should_to_a_superuser(client, admin):
    from django.test import RequestFactory

    admin.is_superuser = True
    admin.save()
    request = RequestFactory().get("/admin/")
    request.user = admin
    registered = {model._meta.label: model_admin for model, model_admin in admin_site_registry().items()}
    assert set(registered) == set(ADMIN_PERMISSIONS), "list a new admin page in ADMIN_PERMISSIONS"
    actual = {label: (model_admin.has_add_permission(request), model_admin.has_change_permission(request),
                      model_admin.has_delete_permission(request)) for label, model_admin in registered.items()}
    assert actual == ADMIN_PERMISSIONS
    # And the pages agree: a model without "add" has no add page, and its list offers no Add button.
    client.force_login(admin)
    for label, (can_add, _can_change, _can_delete) in ADMIN_PERMISSIONS.items():
        app_label, model_name = label.lower().split(".")
        if can_add or app_label not in OUR_APPS + ("followup",):
            continue
        add_url = reverse(f"admin:{app_label}_{model_name}_add")
        assert client.get(add_url).status_code == 403, label
        changelist = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
        assert changelist.status_code == 200 and add_url not in changelist.content.decode(), label


def admin_site_registry():
    return admin.site._registry
