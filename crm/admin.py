from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from crm.admin_base import ReadOnlyAdmin, ViewOnlyAdmin
from crm.models import AuditEvent, BulkAction, SalesRepProfile

# Django stores a permission's name in English ("Can add tag"), as data; the user and group pages
# show it in the reader's language instead: the model's translated name in a translated sentence,
# or a custom permission's name as a msgid (they are marked with gettext_noop in their models).
BUILTIN_PERMISSIONS = {
    "add": gettext_noop("Can add %(model)s"),
    "change": gettext_noop("Can change %(model)s"),
    "delete": gettext_noop("Can delete %(model)s"),
    "view": gettext_noop("Can view %(model)s"),
}


def permission_label(permission: Permission) -> str:
    action, _sep, model_name = permission.codename.partition("_")
    model = permission.content_type.model_class()
    if action in BUILTIN_PERMISSIONS and model is not None and model._meta.model_name == model_name:
        name = _(BUILTIN_PERMISSIONS[action]) % {"model": model._meta.verbose_name}
    else:
        name = _(permission.name)
    return f"{permission.content_type} | {name}"


class TranslatedPermissions:
    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name in ("permissions", "user_permissions"):
            field.label_from_instance = permission_label
        return field


User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(TranslatedPermissions, auth_admin.UserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(TranslatedPermissions, auth_admin.GroupAdmin):
    pass


@admin.register(SalesRepProfile)
class SalesRepProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "industries", "accepts_new_prospects", "last_assigned_at")
    raw_id_fields = ("user",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log is append-only: written by the services, never edited or deleted."""

    list_display = ("at", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor__username")
    date_hierarchy = "at"
    list_select_related = ("actor",)


@admin.register(BulkAction)
class BulkActionAdmin(ViewOnlyAdmin):
    """Read-only: bulk actions are previewed and confirmed on the contact list (crm.bulk)."""

    list_display = ("created_at", "actor", "action", "status", "done_at")
    list_filter = ("action", "status")
    list_select_related = ("actor",)
    readonly_fields = ("actor", "action", "status", "selection", "contact_ids", "params", "result", "next_url", "note",
                       "created_at", "done_at")
