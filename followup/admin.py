from django.contrib import admin

from crm.admin_base import ViewOnlyAdmin
from followup.models import EmailPreferences, Notification, Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("contact", "type", "due_at", "assignee", "done_at", "outcome")
    list_filter = ("type", "outcome")
    raw_id_fields = ("contact", "assignee", "done_by", "created_by")
    # Completing goes through followup.services.task_complete (interaction, event, audit): read-only here.
    readonly_fields = ("done_at", "done_by", "outcome")


@admin.register(Notification)
class NotificationAdmin(ViewOnlyAdmin):
    """Notifications are written by followup's services and read on the pages."""

    list_display = ("user", "kind", "created_at", "read_at", "email_status")
    list_filter = ("kind", "email_status")
    raw_id_fields = ("user", "contact")


admin.site.register(EmailPreferences)
