from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html_join

from server.compliance import policy_versions
from server.compliance.forms import SEVERITY_FIELDS, PolicyForm
from server.compliance.models import CheckResult, Policy, PolicyVersion, SeatEvent, SeatVerdict


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    fields = ["number", "created_at", "created_by", "what_changed", "comment"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-number"]

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="what changed")
    def what_changed(self, version: PolicyVersion) -> str:
        return "; ".join(policy_versions.describe_all(version.changes))


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = [
        "name",
        "site",
        "floor",
        "version_in_force",
        "freshness_s",
        "checkin_interval_s",
        "updated_at",
    ]
    inlines = [PolicyVersionInline]
    fieldsets = [
        (None, {"fields": ["name", "site", "floor"]}),
        (
            "What a seat must satisfy",
            {"fields": ["cti_origins", "notifications_required", "min_chrome_major", "approved_headsets"]},
        ),
        ("Timing", {"fields": ["freshness_s", "checkin_interval_s"]}),
        ("Checks", {"fields": ["disabled_checks"]}),
        (
            "Severity per check",
            {
                "fields": SEVERITY_FIELDS,
                "classes": ["collapse"],
                "description": "Leave a check at its default, or make it critical (a failure makes the "
                "seat NOT READY) or a warning (AT RISK).",
            },
        ),
        ("This change", {"fields": ["comment", "previewed"]}),
    ]

    @admin.display(description="version")
    def version_in_force(self, policy: Policy) -> str:
        return f"v{policy.current_version.number}" if policy.current_version else "—"

    def save_model(self, request: HttpRequest, obj: Policy, form: PolicyForm, change: bool) -> None:
        # policy_versions.save records the version in the admin's transaction and queues the
        # re-judging only once that transaction has committed, so no worker can read the old
        # policy and stamp a verdict with the new version.
        version = policy_versions.save(obj, by=request.user, comment=form.cleaned_data.get("comment", ""))
        if version is None:
            self.message_user(request, "Nothing changed: no new version, no seat re-judged.", messages.INFO)
        else:
            self.message_user(
                request,
                f"Saved as version {version.number}; re-judging every seat it governs now.",
                messages.INFO,
            )


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    """Read-only: a version is a record of what was in force."""

    list_display = ["policy", "number", "created_at", "created_by", "comment"]
    list_filter = ["policy"]
    readonly_fields = [
        "policy",
        "number",
        "created_at",
        "created_by",
        "comment",
        "changes_in_words",
        "content",
    ]
    exclude = ["changes"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="what changed")
    def changes_in_words(self, version: PolicyVersion) -> str:
        return format_html_join(
            "", "<div>{}</div>", ((line,) for line in policy_versions.describe_all(version.changes))
        )


@admin.register(SeatVerdict)
class SeatVerdictAdmin(admin.ModelAdmin):
    list_display = ["seat", "device", "policy", "policy_version", "judged_at"]
    list_select_related = ["seat__floor", "device", "policy", "policy_version__policy"]
    list_filter = ["policy"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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
