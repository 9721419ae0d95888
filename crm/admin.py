from django.contrib import admin

from crm.models import AuditEvent, BulkAction, SalesRepProfile


@admin.register(SalesRepProfile)
class SalesRepProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "industries", "accepts_new_prospects", "last_assigned_at")
    raw_id_fields = ("user",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor__username")
    date_hierarchy = "at"
    list_select_related = ("actor",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the audit log is append-only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BulkAction)
class BulkActionAdmin(admin.ModelAdmin):
    """Read-only: bulk actions are previewed and confirmed on the contact list (crm.bulk)."""

    list_display = ("created_at", "actor", "action", "status", "done_at")
    list_filter = ("action", "status")
    list_select_related = ("actor",)
    readonly_fields = ("actor", "action", "status", "selection", "contact_ids", "params", "result", "next_url", "note",
                       "created_at", "done_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
