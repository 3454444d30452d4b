"""Admin: channels, rules, digests, and the delivery log (every try), replayable from the list."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from server.alerts import delivering
from server.alerts.models import AlertRule, Attempt, Channel, Delivery, Digest, DigestEntry, OutboxCursor

SECRET_HELP = "Receivers verify the ReadyFloor-Signature header with this secret (server/alerts/README.md)."
REPLAY_LIMIT = 20  # each replay waits on the receiver (bounded by the HTTP timeout)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "url", "email_to", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "url", "email_to"]
    # A URL typed without a scheme is meant as https (Django 6's default; no warning now).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled"]}),
        ("Webhook, Slack, Teams", {"fields": ["url", "secret"], "description": SECRET_HELP}),
        ("Email", {"fields": ["email_to"]}),
    ]  # fmt: skip
    actions = ["send_test_message"]

    @admin.action(description="Send a test message to the selected channels")
    def send_test_message(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        for channel in queryset[:REPLAY_LIMIT]:
            result = delivering.send_test_message(channel)
            outcome = f"HTTP {result.status_code}" if result.status_code else (result.error or result.excerpt)
            self.message_user(
                request,
                f"{channel.name}: {'accepted' if result.ok else 'not accepted'} ({outcome}).",
                messages.SUCCESS if result.ok else messages.WARNING,
            )


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "site", "floor", "on_seat_down", "on_seat_recovered", "floor_threshold_percent",
                    "window_s", "enabled"]  # fmt: skip
    list_filter = ["enabled", "site", "floor"]
    filter_horizontal = ["channels"]
    search_fields = ["name"]


class EntryInline(admin.TabularInline):
    model = DigestEntry
    fields = ["at", "kind", "seat", "from_readiness", "to_readiness", "reason", "percent", "silenced"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Digest | None = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Digest)
class DigestAdmin(ReadOnlyAdmin):
    list_display = [
        "opened_at",
        "rule",
        "floor",
        "closes_at",
        "closed_at",
        "sent_entries",
        "silenced_entries",
    ]
    list_filter = ["rule", "floor"]
    list_select_related = ["rule", "floor__site"]
    date_hierarchy = "opened_at"
    readonly_fields = ["idempotency_key"]
    inlines = [EntryInline]


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = [
        "number",
        "replay",
        "started_at",
        "duration_ms",
        "status_code",
        "ok",
        "error",
        "response_excerpt",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "digest_floor", "status", "attempts", "last_status_code",
                    "delivered_at", "next_attempt_at"]  # fmt: skip
    list_filter = ["status", "channel", "digest__floor"]
    list_select_related = ["channel", "digest__floor__site"]
    search_fields = ["subject", "digest__idempotency_key", "last_error"]
    date_hierarchy = "created_at"
    readonly_fields = ["digest", "channel", "status", "idempotency_key", "subject", "content_type", "body",
                       "attempts", "next_attempt_at", "delivered_at", "last_status_code", "last_error",
                       "created_at"]  # fmt: skip
    inlines = [AttemptInline]
    actions = ["replay_selected"]

    @admin.display(description="floor")
    def digest_floor(self, obj: Delivery) -> str:
        return str(obj.digest.floor)

    @admin.action(description="Replay the selected deliveries now (same idempotency key)")
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        chosen = list(queryset.values_list("pk", flat=True)[: REPLAY_LIMIT + 1])
        if len(chosen) > REPLAY_LIMIT:
            self.message_user(request, f"Replay at most {REPLAY_LIMIT} deliveries at a time.", messages.ERROR)
            return
        for pk in chosen:
            attempt = delivering.replay_delivery(pk)
            outcome = f"HTTP {attempt.status_code}" if attempt.status_code else (attempt.error or "sent")
            self.message_user(
                request,
                f"Delivery {pk}: {'accepted' if attempt.ok else 'not accepted'} ({outcome}).",
                messages.SUCCESS if attempt.ok else messages.WARNING,
            )


@admin.register(OutboxCursor)
class OutboxCursorAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_event_id", "updated_at"]
