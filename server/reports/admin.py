"""Reports in the admin: schedules (saving one writes its beat entry), and the archive read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html

from server.reports import scheduling
from server.reports.forms import ScheduleForm
from server.reports.models import ReportDelivery, ReportFile, ReportRun, ReportSchedule, ReportSubscription


class SubscriptionInline(admin.TabularInline):
    model = ReportSubscription
    extra = 0
    autocomplete_fields: list[str] = []


@admin.register(ReportSchedule)
class ReportScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ["name", "scope", "cadence_text", "formats", "enabled", "updated_at"]
    list_filter = ["enabled", "cadence", "site"]
    search_fields = ["name", "recipients"]
    inlines = [SubscriptionInline]
    readonly_fields = ["periodic_task", "created_by", "created_at", "updated_at"]

    @admin.display(description="Scope")
    def scope(self, schedule: ReportSchedule) -> str:
        return schedule.scope_label

    @admin.display(description="Cadence")
    def cadence_text(self, schedule: ReportSchedule) -> str:
        return schedule.cadence_text

    def save_model(self, request: Any, obj: ReportSchedule, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        scheduling.sync_periodic_task(obj)

    def delete_model(self, request: Any, obj: ReportSchedule) -> None:
        scheduling.delete_schedule(obj)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for schedule in queryset:
            scheduling.delete_schedule(schedule)


class FileInline(admin.TabularInline):
    model = ReportFile
    extra = 0
    can_delete = False
    fields = ["format", "filename", "size", "sha256"]
    readonly_fields = fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = ReportDelivery
    extra = 0
    can_delete = False
    fields = ["kind", "recipients", "channel", "status", "attempts", "last_error", "delivered_at", "linked"]
    readonly_fields = fields

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(ReportRun)
class ReportRunAdmin(admin.ModelAdmin):
    """The archive: read-only, as a record of what was sent."""

    list_display = ["id", "scope", "trigger", "schedule", "status", "created_at", "generated_at", "page"]
    list_filter = ["status", "trigger", "site"]
    date_hierarchy = "created_at"
    inlines = [FileInline, DeliveryInline]
    readonly_fields = [f.name for f in ReportRun._meta.fields]

    @admin.display(description="Scope")
    def scope(self, run: ReportRun) -> str:
        return run.scope_label

    @admin.display(description="Report")
    def page(self, run: ReportRun) -> str:
        return format_html('<a href="/reports/runs/{}/">open</a>', run.pk)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False
