from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest

from server.fleet.ingest import move_to_seat
from server.fleet.models import CheckIn, Device, DeviceMove, EnrollSecret, FactSnapshot, Floor, Seat, Site


class FloorInline(admin.TabularInline):
    model = Floor
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "created_at"]
    search_fields = ["name"]
    inlines = [FloorInline]


@admin.register(Floor)
class FloorAdmin(admin.ModelAdmin):
    list_display = ["name", "site"]
    list_filter = ["site"]
    search_fields = ["name", "site__name"]


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    list_display = ["label", "floor", "row", "column", "team", "readiness", "readiness_since", "evaluated_at"]
    list_filter = ["readiness", "floor__site", "floor", "team"]
    search_fields = ["label", "team", "device__hostname"]
    readonly_fields = ["readiness", "readiness_since", "evaluated_at", "failing"]
    list_select_related = ["floor__site"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["hostname", "os", "agent_version", "site", "seat", "last_seen_at", "dropped_reports"]
    list_filter = ["os", "site", "agent_version"]
    search_fields = ["hostname", "host_identifier", "seat__label"]
    readonly_fields = [
        "host_identifier",
        "enrolled_at",
        "last_seen_at",
        "current_facts",
        "facts_hash",
        "facts_collected_at",
        "dropped_reports",
    ]
    # A searchable picker (SeatAdmin.search_fields: label, team, hostname) instead of a raw id box.
    autocomplete_fields = ["seat"]
    list_select_related = ["site", "seat__floor"]
    actions = ["revoke_node_keys"]

    def save_model(self, request: HttpRequest, obj: Device, form, change: bool) -> None:
        """A new seat goes through ingest.move_to_seat: whoever sat there is unseated (a seat
        holds one workstation) and both moves are recorded for the seats' pages."""
        if "seat" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        new_seat = obj.seat
        with transaction.atomic():
            obj.seat_id = form.initial.get("seat") if change else None
            if not change:
                obj.save()
            move_to_seat(obj, new_seat, by=request.user.get_username())
            super().save_model(request, obj, form, change)

    @admin.action(description="Revoke node keys (the agents must enrol again)")
    def revoke_node_keys(self, request: HttpRequest, queryset) -> None:
        count = queryset.update(node_key_hash=None)
        self.message_user(request, f"Revoked {count} node key(s).", messages.SUCCESS)


@admin.register(EnrollSecret)
class EnrollSecretAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "hint", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["site"]
    fields = ["site", "name", "hint", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["hint", "created_at", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: EnrollSecret, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        secret, plain = EnrollSecret.issue(obj.site, obj.name)
        obj.pk, obj.hint = secret.pk, secret.hint
        # Shown once: only the hash is kept.
        self.message_user(
            request, f"New enroll secret (copy it now, it is not shown again): {plain}", messages.WARNING
        )

    @admin.action(description="Revoke selected secrets")
    def revoke(self, request: HttpRequest, queryset) -> None:
        for secret in queryset:
            secret.revoke()


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ["device", "collected_at", "received_at", "facts_hash", "evaluated_at"]
    list_filter = ["device__site"]
    search_fields = ["device__hostname", "report_id"]
    date_hierarchy = "received_at"
    list_select_related = ["device"]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(FactSnapshot)
class FactSnapshotAdmin(admin.ModelAdmin):
    list_display = ["sha256", "created_at"]
    search_fields = ["sha256"]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(DeviceMove)
class DeviceMoveAdmin(admin.ModelAdmin):
    list_display = ["at", "hostname", "from_label", "to_label", "by"]
    search_fields = ["hostname", "from_label", "to_label", "by"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
