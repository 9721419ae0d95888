from django.contrib import admin

from contacts import services
from contacts.models import (
    CaptureForm,
    ConsentRecord,
    Contact,
    ContactMerge,
    CustomField,
    ImportJob,
    Interaction,
    InteractionKind,
    Note,
    Segment,
    StageChange,
    Tag,
)
from contacts.services.consent import CONSENT_FLAGS as CONSENT_FIELDS
from crm.admin_base import NoChangeMixin, ReadOnlyAdmin, ViewOnlyAdmin


class InteractionInline(admin.TabularInline):
    model = Interaction
    extra = 0
    fields = ("kind", "occurred_at", "channel", "source", "external_id")
    readonly_fields = fields
    ordering = ("-occurred_at",)
    show_change_link = True
    max_num = 0


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    fields = ("changed_at", "from_stage", "to_stage", "reason_code", "score", "user")
    readonly_fields = fields
    max_num = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("display_name", "email", "phone", "company", "industry", "stage", "score", "owner", "last_interaction_at")
    list_filter = ("stage", "industry", "stage_pinned", "do_not_contact", "consent_email", "consent_whatsapp", "source")
    search_fields = ("full_name", "email", "phone", "company", "external_ref")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
    # Consent flags are read-only: they change only through contacts.services.consent (the privacy page), with evidence.
    readonly_fields = ("score", "score_breakdown", "scored_at", "stage", "stage_changed_at", "last_interaction_at", "created_at",
                       "updated_at", *CONSENT_FIELDS)
    filter_horizontal = ("tags",)
    inlines = [StageChangeInline, InteractionInline]
    show_full_result_count = False  # COUNT(*) on millions of rows on every list page is slow


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ("contact", "kind", "occurred_at", "channel", "source", "external_id")
    list_filter = ("kind", "channel")
    search_fields = ("contact__email", "contact__full_name", "external_id")
    raw_id_fields = ("contact", "created_by")
    list_select_related = ("contact", "kind")
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(InteractionKind)
class InteractionKindAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "name_id", "intent_level")
    list_filter = ("intent_level",)
    search_fields = ("slug", "name", "name_id")

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        # A new kind goes through the service, which writes its audit row.
        services.interaction_kind_create(data=form.cleaned_data, by=request.user)
        return None


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("contact", "kind", "author", "created_at", "due_at", "done_at")
    list_filter = ("kind",)
    search_fields = ("body", "contact__full_name", "contact__email")
    raw_id_fields = ("contact", "author")
    list_select_related = ("contact", "author")


@admin.register(StageChange)
class StageChangeAdmin(NoChangeMixin, admin.ModelAdmin):
    """History is immutable: a move is never edited."""

    list_display = ("contact", "from_stage", "to_stage", "reason_code", "score", "changed_at", "user")
    list_filter = ("to_stage", "reason_code")
    search_fields = ("contact__full_name", "contact__email")
    raw_id_fields = ("contact", "user", "ruleset_version")
    list_select_related = ("contact", "user")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ViewOnlyAdmin):
    """Evidence of consent is never edited, only added, and only by contacts.services.consent,
    together with the flag it explains."""

    list_display = ("contact", "channel", "granted", "source", "wording_version", "recorded_at", "recorded_by")
    list_filter = ("channel", "granted")
    search_fields = ("contact__email", "contact__full_name", "source")
    raw_id_fields = ("contact", "recorded_by")
    list_select_related = ("contact", "recorded_by")


@admin.register(CaptureForm)
class CaptureFormAdmin(admin.ModelAdmin):
    list_display = ("name", "public_key", "source", "industry", "overwrite_contact_fields", "is_active", "created_at")
    list_filter = ("is_active", "industry", "overwrite_contact_fields")
    search_fields = ("name", "source")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("file_name", "status", "total_rows", "rows_done", "created", "updated", "failed", "created_by", "created_at")
    list_filter = ("status",)
    exclude = ("content",)
    readonly_fields = ("file_name", "encoding", "delimiter", "header", "total_rows", "rows_done", "created", "updated",
                       "skipped", "failed", "errors", "started_at", "finished_at", "created_by")


@admin.register(ContactMerge)
class ContactMergeAdmin(admin.ModelAdmin):
    list_display = ("kept", "merged_contact_id", "merged_by", "merged_at")
    raw_id_fields = ("kept", "merged_by")
    readonly_fields = ("kept", "merged_contact_id", "merged_snapshot", "merged_by", "merged_at")


@admin.register(Segment)
class SegmentAdmin(ReadOnlyAdmin):
    """Read-only here: segments are written on /segments/ and /api/segments/ (audited services)."""

    list_display = ("name", "created_by", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("name", "filters", "created_by", "created_at", "updated_at")


@admin.register(CustomField)
class CustomFieldAdmin(ReadOnlyAdmin):
    """Read-only here: fields are defined on /settings/fields/, which audits every change."""

    list_display = ("key", "label_en", "label_id", "type", "position", "active")
    list_filter = ("type", "active")
