from django.contrib import admin, messages
from django.http import HttpRequest

from server.fleet import enrolment
from server.fleet.models import (
    CheckIn,
    ClaimStatus,
    Device,
    EnrollSecret,
    EnrolmentClaim,
    FactSnapshot,
    Floor,
    Seat,
    Site,
)


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
    list_display = [
        "hostname",
        "os",
        "agent_version",
        "site",
        "seat",
        "last_seen_at",
        "dropped_reports",
        "dead_lettered_reports",
    ]
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
        "dead_lettered_reports",
    ]
    raw_id_fields = ["seat"]
    list_select_related = ["site", "seat__floor"]
    actions = ["revoke_node_keys"]

    @admin.action(description="Revoke node keys (the agents must enrol again)")
    def revoke_node_keys(self, request: HttpRequest, queryset) -> None:
        count = queryset.update(node_key_hash=None)
        self.message_user(request, f"Revoked {count} node key(s).", messages.SUCCESS)


@admin.register(EnrollSecret)
class EnrollSecretAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "site",
        "floor",
        "hint",
        "created_at",
        "expires_at",
        "uses",
        "max_uses",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["site"]
    fields = [
        "site",
        "floor",
        "name",
        "expires_at",
        "max_uses",
        "hint",
        "uses",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["hint", "uses", "created_at", "last_used_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: EnrollSecret, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        secret, plain = EnrollSecret.issue(
            obj.site, obj.name, floor=obj.floor, expires_at=obj.expires_at, max_uses=obj.max_uses
        )
        obj.pk, obj.hint = secret.pk, secret.hint
        # Shown once: only the hash is kept.
        self.message_user(
            request, f"New enroll secret (copy it now, it is not shown again): {plain}", messages.WARNING
        )

    @admin.action(description="Revoke selected secrets")
    def revoke(self, request: HttpRequest, queryset) -> None:
        for secret in queryset:
            secret.revoke()


@admin.register(EnrolmentClaim)
class EnrolmentClaimAdmin(admin.ModelAdmin):
    """Claims on occupied seats and enrolled hosts' identities: approve or refuse them here."""

    list_display = [
        "created_at",
        "kind",
        "status",
        "hostname",
        "address",
        "seat",
        "previous_device",
        "device",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["hostname", "device__hostname", "device__host_identifier", "seat__label"]
    list_select_related = ["seat__floor", "device", "previous_device"]
    readonly_fields = [
        "kind",
        "status",
        "device",
        "seat",
        "previous_device",
        "previous_last_seen_at",
        "secret",
        "hostname",
        "address",
        "created_at",
        "decided_at",
        "decided_by",
        "completed_at",
    ]
    exclude = ["claim_token_hash"]
    actions = ["approve", "refuse"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Approve: the device takes the seat / the host gets a new key")
    def approve(self, request: HttpRequest, queryset) -> None:
        for claim in queryset.filter(status=ClaimStatus.PENDING):
            enrolment.approve(claim, by=request.user.get_username())
        self.message_user(request, "Approved. Host claims complete at the agent's next enrolment.")

    @admin.action(description="Refuse: nothing changes for the enrolled device")
    def refuse(self, request: HttpRequest, queryset) -> None:
        for claim in queryset.filter(status=ClaimStatus.PENDING):
            enrolment.refuse(claim, by=request.user.get_username())
        self.message_user(request, "Refused.")


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
