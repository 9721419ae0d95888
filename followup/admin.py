from django.contrib import admin

from followup.models import EmailPreferences, Notification, Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("contact", "type", "due_at", "assignee", "done_at", "outcome")
    list_filter = ("type", "outcome")
    raw_id_fields = ("contact", "assignee", "done_by", "created_by")
    # Completing goes through followup.services.task_complete (interaction, event, audit): read-only here.
    readonly_fields = ("done_at", "done_by", "outcome")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "created_at", "read_at", "email_status")
    list_filter = ("kind", "email_status")
    raw_id_fields = ("user", "contact")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(EmailPreferences)
