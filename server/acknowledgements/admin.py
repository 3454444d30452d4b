"""Admin: acknowledge a failing check (add), revoke (list action), read the audit trail."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from readyfloor_agent.checks import CATALOG

from server.acknowledgements import acknowledging
from server.acknowledgements.models import Acknowledgement, AcknowledgementAudit


class AcknowledgementForm(forms.ModelForm):
    check_id = forms.ChoiceField(
        label="Check", choices=[(check.id, f"{check.title} ({check.id})") for check in CATALOG]
    )

    class Meta:
        model = Acknowledgement
        fields = ["check_id", "seat", "floor", "reason", "expires_at"]
        help_texts = {
            "seat": "One seat, or leave empty and pick a floor to acknowledge the check on every seat of it.",
            "expires_at": "It ends by itself then (at most 365 days ahead); revoke it earlier if fixed.",
        }

    def clean(self) -> dict:
        data = super().clean()
        errors = acknowledging.acknowledgement_errors(
            check_id=data.get("check_id", ""),
            reason=data.get("reason", ""),
            expires_at=data.get("expires_at"),
            seat=data.get("seat"),
            floor=data.get("floor"),
            now=timezone.now(),
        )
        for field, message in errors.items():
            if field not in self._errors:
                self.add_error(field, message)
        return data


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Acknowledgement]
    ) -> QuerySet[Acknowledgement]:
        if self.value() in {"active", "expired", "revoked"}:
            chosen = acknowledging.list_acknowledgements(status=self.value())
            return queryset.filter(pk__in=chosen.values("pk"))
        return queryset


class AuditInline(admin.TabularInline):
    model = AcknowledgementAudit
    fields = ["at", "action", "actor_name", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Acknowledgement | None = None) -> bool:
        return False


@admin.register(Acknowledgement)
class AcknowledgementAdmin(admin.ModelAdmin):
    form = AcknowledgementForm
    list_display = ["check_id", "scope", "status_label", "expires_at", "created_by", "reason"]
    list_filter = [StatusFilter, "check_id", "floor", "seat__floor"]
    search_fields = ["check_id", "reason", "seat__label", "floor__name"]
    list_select_related = ["seat__floor", "floor", "created_by"]
    # Searchable pickers: a select of every seat would list the whole fleet.
    autocomplete_fields = ["seat", "floor"]
    inlines = [AuditInline]
    actions = ["revoke_selected"]

    @admin.display(description="on")
    def scope(self, obj: Acknowledgement) -> str:
        return obj.scope_label

    @admin.display(description="status")
    def status_label(self, obj: Acknowledgement) -> str:
        return obj.status

    def get_readonly_fields(self, request: HttpRequest, obj: Acknowledgement | None = None) -> list[str]:
        # An acknowledgement is a record: it is never edited, only revoked (audited) or left to expire.
        if obj is None:
            return []
        return ["check_id", "seat", "floor", "reason", "created_by", "created_at", "expires_at",
                "revoked_at", "revoked_by", "revoke_reason"]  # fmt: skip

    def get_fields(self, request: HttpRequest, obj: Acknowledgement | None = None) -> list[str]:
        if obj is None:
            return ["check_id", "seat", "floor", "reason", "expires_at"]
        return self.get_readonly_fields(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Acknowledgement | None = None) -> list:
        return self.inlines if obj is not None else []  # nothing to audit before it exists

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {
            "expires_at": timezone.now() + dt.timedelta(days=7),
            **super().get_changeform_initial_data(request),
        }

    def has_delete_permission(self, request: HttpRequest, obj: Acknowledgement | None = None) -> bool:
        return False  # the audit trail must outlive it

    def save_model(self, request: HttpRequest, obj: Acknowledgement, form, change: bool) -> None:
        if change:
            return
        data = form.cleaned_data
        created = acknowledging.acknowledge(
            actor=request.user,
            check_id=data["check_id"],
            reason=data["reason"],
            expires_at=data["expires_at"],
            seat=data.get("seat"),
            floor=data.get("floor"),
        )
        # The admin goes on with `obj` (its message, its log entry): make it the stored row.
        obj.pk = created.pk
        obj.created_at = created.created_at
        obj.created_by = created.created_by
        obj._state.adding = False

    @admin.action(description="Revoke the selected acknowledgements")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Acknowledgement]) -> None:
        revoked = sum(
            acknowledging.revoke(ack, actor=request.user, reason="revoked in the admin") for ack in queryset
        )
        skipped = queryset.count() - revoked
        self.message_user(
            request,
            f"Revoked {revoked} acknowledgement(s)."
            + (f" {skipped} had already expired or been revoked." if skipped else ""),
            messages.SUCCESS if revoked else messages.WARNING,
        )


@admin.register(AcknowledgementAudit)
class AcknowledgementAuditAdmin(admin.ModelAdmin):
    list_display = ["at", "action", "acknowledgement", "actor_name", "detail"]
    list_filter = ["action"]
    search_fields = ["actor_name", "detail", "acknowledgement__check_id"]
    list_select_related = ["acknowledgement__seat__floor", "acknowledgement__floor"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AcknowledgementAudit | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AcknowledgementAudit | None = None) -> bool:
        return False
