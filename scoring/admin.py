from django.contrib import admin

from scoring.models import Backtest, RescoreRun, Rule, RuleSet, RuleSetVersion


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = ("position", "type", "label", "points", "interaction_kind", "window_days", "max_occurrences", "field", "operator", "value")


@admin.register(RuleSet)
class RuleSetAdmin(admin.ModelAdmin):
    list_display = ("name", "industry", "playbook", "active_version")
    list_select_related = ("active_version",)


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(admin.ModelAdmin):
    list_display = ("ruleset", "number", "status", "lead_threshold", "prospect_threshold", "published_at")
    list_filter = ("status", "ruleset")
    inlines = [RuleInline]
    filter_horizontal = ("conversion_kinds",)


@admin.register(RescoreRun)
class RescoreRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "reason", "status", "done_chunks", "total_chunks", "contacts_scored", "stage_changes", "started_at", "finished_at")
    readonly_fields = list_display


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    list_display = ("version", "kind", "status", "progress", "created_by", "created_at", "finished_at")
    list_filter = ("kind", "status")
    readonly_fields = ("version", "kind", "params", "status", "progress", "results", "message", "created_by", "created_at", "finished_at")


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("label", "version", "type", "points", "interaction_kind", "field", "operator", "window_days", "max_occurrences")
    list_filter = ("type", "version__ruleset", "version__status")
    search_fields = ("label", "field")
    list_select_related = ("version__ruleset", "interaction_kind")
