from django.contrib import admin, messages
from django.http import HttpRequest

from server.compliance.models import CheckResult, Policy, SeatEvent


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "floor", "freshness_s", "checkin_interval_s", "updated_at"]

    def save_model(self, request: HttpRequest, obj: Policy, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # A policy change can change verdicts: re-judge the seats it governs now.
        from server.compliance.evaluation import reevaluate_policy_scope
        from server.compliance.tasks import evaluate_device

        device_ids = reevaluate_policy_scope(obj)
        for device_id in device_ids:
            evaluate_device.delay(device_id)
        self.message_user(request, f"Re-evaluating {len(device_ids)} seat(s).", messages.INFO)


@admin.register(CheckResult)
class CheckResultAdmin(admin.ModelAdmin):
    list_display = ["device", "check_id", "state", "severity", "reason", "since"]
    list_filter = ["check_id", "state", "severity"]
    search_fields = ["device__hostname", "reason"]
    list_select_related = ["device"]


@admin.register(SeatEvent)
class SeatEventAdmin(admin.ModelAdmin):
    list_display = ["seat", "at", "from_readiness", "to_readiness", "reason"]
    list_filter = ["to_readiness", "seat__floor"]
    search_fields = ["seat__label", "reason"]
    date_hierarchy = "at"
    list_select_related = ["seat__floor"]
