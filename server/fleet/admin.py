import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from server.fleet import enrolment
from server.fleet.enrolment import move_to_seat
from server.fleet.models import (
    CheckIn,
    ClaimStatus,
    Device,
    DeviceMove,
    EnrollSecret,
    EnrolmentClaim,
    FactSnapshot,
    Floor,
    Readiness,
    Seat,
    Site,
)


class FloorInline(admin.TabularInline):
    model = Floor
    extra = 0


class SiteForm(forms.ModelForm):
    class Meta:
        model = Site
        fields = "__all__"

    def clean_timezone(self) -> str:
        """One named IANA zone per site: every page, export and admin list shows the site's
        times in it, so a typo would quietly show them in UTC instead."""
        name = self.cleaned_data["timezone"].strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise forms.ValidationError(f"{name!r} is not an IANA time zone, e.g. Europe/Paris") from error
        return name


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    form = SiteForm
    list_display = ["name", "timezone", "created_at"]
    search_fields = ["name"]
    inlines = [FloorInline]


@admin.register(Floor)
class FloorAdmin(admin.ModelAdmin):
    list_display = ["name", "site"]
    list_filter = ["site"]
    search_fields = ["name", "site__name"]


def site_time(moment: dt.datetime | None, site: Site | None) -> str:
    """A moment in its site's time zone, with the zone named: the admin lists several sites,
    so its own single time zone would be wrong for all but one."""
    if moment is None:
        return "—"
    zone_name = site.timezone if site else "UTC"
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone, zone_name = dt.timezone.utc, "UTC"
    return f"{timezone.localtime(moment, zone):%Y-%m-%d %H:%M} {zone_name}"


class SeatForm(forms.ModelForm):
    """Rows and columns from 1, as the floor map and the seat page number them; stored from 0
    (the map's grid positions), so nothing stored changes."""

    row = forms.IntegerField(
        min_value=1, initial=1, help_text="Row on the floor map, from 1 (the front row)."
    )
    column = forms.IntegerField(
        min_value=1, initial=1, help_text="Column on the floor map, from 1 (the left)."
    )

    class Meta:
        model = Seat
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["row"] = self.instance.row + 1
            self.initial["column"] = self.instance.column + 1

    def clean_row(self) -> int:
        return self.cleaned_data["row"] - 1

    def clean_column(self) -> int:
        return self.cleaned_data["column"] - 1


@admin.register(Seat)
class SeatAdmin(admin.ModelAdmin):
    form = SeatForm
    list_display = [
        "label",
        "floor",
        "row_number",
        "column_number",
        "team",
        "readiness",
        "readiness_since_local",
        "evaluated_at_local",
    ]
    list_filter = ["readiness", "floor__site", "floor", "team"]
    search_fields = ["label", "team", "floor__name", "device__hostname"]
    readonly_fields = ["readiness", "readiness_since", "evaluated_at", "failing"]
    list_select_related = ["floor__site"]

    @admin.display(description="row", ordering="row")
    def row_number(self, seat: Seat) -> int:
        return seat.row + 1

    @admin.display(description="column", ordering="column")
    def column_number(self, seat: Seat) -> int:
        return seat.column + 1

    @admin.display(description="readiness since", ordering="readiness_since")
    def readiness_since_local(self, seat: Seat) -> str:
        return site_time(seat.readiness_since, seat.floor.site)

    @admin.display(description="evaluated at", ordering="evaluated_at")
    def evaluated_at_local(self, seat: Seat) -> str:
        return site_time(seat.evaluated_at, seat.floor.site)


class AssignedFilter(admin.SimpleListFilter):
    """Enrolled workstations not (yet) at a seat: judged nowhere, shown on no floor."""

    title = "seat"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Unassigned"), ("yes", "At a seat")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "no":
            return queryset.filter(seat__isnull=True)
        if self.value() == "yes":
            return queryset.filter(seat__isnull=False)
        return queryset


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "hostname",
        "seat",
        "readiness",
        "os",
        "agent_version",
        "site",
        "last_seen_local",
        "dropped_reports",
        "dead_lettered_reports",
    ]
    list_filter = [AssignedFilter, "seat__readiness", "os", "site", "agent_version"]
    search_fields = ["hostname", "host_identifier", "seat__label"]
    readonly_fields = [
        "host_identifier",
        "enrolled_at",
        "last_seen_at",
        "current_facts",
        "facts_hash",
        "chrome_version",
        "facts_collected_at",
        "dropped_reports",
        "dead_lettered_reports",
    ]
    # A searchable picker (SeatAdmin.search_fields: label, team, hostname) instead of a raw id box.
    autocomplete_fields = ["seat"]
    list_select_related = ["site", "seat__floor"]
    actions = ["revoke_node_keys"]

    @admin.display(description="readiness", ordering="seat__readiness")
    def readiness(self, device: Device) -> str:
        if device.seat is None:
            return "unassigned"
        return Readiness(device.seat.readiness).label if device.seat.readiness in Readiness.values else "—"

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen_local(self, device: Device) -> str:
        return site_time(device.last_seen_at, device.site)

    def save_model(self, request: HttpRequest, obj: Device, form, change: bool) -> None:
        """A new seat goes through enrolment.move_to_seat: whoever sat there is unseated (a seat
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


@admin.register(DeviceMove)
class DeviceMoveAdmin(admin.ModelAdmin):
    list_display = ["at", "hostname", "from_label", "to_label", "by"]
    search_fields = ["hostname", "from_label", "to_label", "by"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
