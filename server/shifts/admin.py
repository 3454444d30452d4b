from django.contrib import admin

from server.shifts.models import Shift, ShiftSnapshot, ShiftSnapshotSeat


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ["name", "floor", "starts_at", "ends_at", "days", "lead_minutes", "site_time_zone"]
    list_filter = ["floor__site", "floor"]
    search_fields = ["name", "floor__name", "teams"]
    filter_horizontal = ["seats"]
    list_select_related = ["floor__site"]

    @admin.display(description="Days")
    def days(self, shift: Shift) -> str:
        return shift.days_text

    @admin.display(description="Time zone")
    def site_time_zone(self, shift: Shift) -> str:
        return shift.floor.site.timezone


class ShiftSnapshotSeatInline(admin.TabularInline):
    model = ShiftSnapshotSeat
    extra = 0
    can_delete = False
    readonly_fields = ["seat_label", "team", "readiness", "readiness_since", "failing", "acknowledged"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ShiftSnapshot)
class ShiftSnapshotAdmin(admin.ModelAdmin):
    """Read-only: a snapshot records what was, so nobody edits it."""

    list_display = [
        "shift_name",
        "floor",
        "starts_at",
        "ready",
        "seats_total",
        "not_ready",
        "offline",
        "acknowledged",
    ]
    list_filter = ["floor"]
    date_hierarchy = "starts_at"
    inlines = [ShiftSnapshotSeatInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
