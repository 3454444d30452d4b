"""Operator API, alerts: rules (read; create and change for IT admins), channels (without
their secrets), the delivery log with every attempt, and replaying a delivery (IT admins),
through server.alerts (delivering.deliveries_log, delivering.replay_delivery).

A supervisor sees the rules watching every floor and those of their sites and floors, the
channels those rules use, and the deliveries about their floors; auditors see everything and
change nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from server.alerts import delivering
from server.alerts.models import AlertRule, Channel, Delivery, DeliveryStatus
from server.api.errors import ApiError, ErrorOut
from server.api.paging import Page, PageQuery, paginate
from server.fleet.models import Floor, Site
from server.roles import scope

router = Router(tags=["alerts"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


class RuleOut(Schema):
    id: int
    name: str
    scope: Literal["floor", "site", "every floor"]
    site: int | None
    floor: int | None
    on_seat_down: bool
    on_seat_recovered: bool
    floor_threshold_percent: int | None
    window_s: int
    channels: list[int]
    enabled: bool
    created_at: dt.datetime


class RulePage(Page):
    results: list[RuleOut]


class RuleIn(Schema):
    """A rule's fields; on a change (PATCH), those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=100)
    site: int | None = Field(
        None, description="The site's id: every floor of it. Or floor, or neither (every floor)."
    )
    floor: int | None = Field(None, description="The floor's id.")
    on_seat_down: bool | None = None
    on_seat_recovered: bool | None = None
    floor_threshold_percent: int | None = Field(None, description="1 to 100; null for no threshold.")
    window_s: int | None = Field(None, description="Changes within this many seconds go out as one digest.")
    channels: list[int] | None = Field(None, description="Channel ids.")
    enabled: bool | None = None


class ChannelOut(Schema):
    id: int
    name: str
    kind: str
    destination: str = Field(
        description="The URL's host, or the email addresses: never the secret or full URL."
    )
    enabled: bool


class AttemptOut(Schema):
    number: int
    replay: bool
    started_at: dt.datetime
    duration_ms: int
    status_code: int | None
    ok: bool
    error: str
    response_excerpt: str


class DeliveryOut(Schema):
    id: int
    status: str
    channel: int
    channel_name: str
    rule: str
    floor: int
    floor_name: str
    subject: str
    idempotency_key: str
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    attempt_log: list[AttemptOut]


class DeliveryPage(Page):
    results: list[DeliveryOut]


class DeliveryFilters(PageQuery):
    status: Literal[tuple(DeliveryStatus.values)] | None = None  # type: ignore[valid-type]
    channel: int | None = Field(None, description="The channel's id.")
    floor: int | None = Field(None, description="The floor's id.")


def rules_visible_to(user: Any) -> QuerySet[AlertRule]:
    rules = AlertRule.objects.prefetch_related("channels")
    if scope.sees_every_floor(user):
        return rules
    return rules.filter(
        Q(site__isnull=True, floor__isnull=True)
        | Q(site__in=scope.sites_visible_to(user))
        | Q(floor__in=scope.floors_visible_to(user))
    )


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "scope": "floor" if rule.floor_id else "site" if rule.site_id else "every floor",
        "site": rule.site_id,
        "floor": rule.floor_id,
        "on_seat_down": rule.on_seat_down,
        "on_seat_recovered": rule.on_seat_recovered,
        "floor_threshold_percent": rule.floor_threshold_percent,
        "window_s": rule.window_s,
        "channels": sorted(channel.pk for channel in rule.channels.all()),
        "enabled": rule.enabled,
        "created_at": rule.created_at,
    }


def visible_rule(user: Any, rule_id: int) -> AlertRule:
    rule = rules_visible_to(user).filter(pk=rule_id).first()
    if rule is None:
        raise ApiError(404, f"no alert rule {rule_id}", error="not_found")
    return rule


def _invalid(error: ValidationError) -> ApiError:
    if hasattr(error, "error_dict"):
        field, messages = next(iter(error.message_dict.items()))
        return ApiError(400, messages[0], field=None if field == "__all__" else field)
    return ApiError(400, error.messages[0])


def _apply(rule: AlertRule, body: RuleIn) -> list[Channel] | None:
    """Set the given fields on `rule` and check it (the model's validators and constraints);
    the channels to set, or None to keep them. Refused naming the field; nothing stored."""
    given = body.model_dump(exclude_unset=True)
    nullable = {"site", "floor", "floor_threshold_percent"}
    nulls = [name for name, value in given.items() if value is None and name not in nullable]
    if nulls:
        raise ApiError(400, "must not be null; leave the field out to keep its value", field=nulls[0])
    if "site" in given:
        if given["site"] is not None and not Site.objects.filter(pk=given["site"]).exists():
            raise ApiError(400, f"no site {given['site']}", field="site")
        rule.site_id = given.pop("site")
    if "floor" in given:
        if given["floor"] is not None and not Floor.objects.filter(pk=given["floor"]).exists():
            raise ApiError(400, f"no floor {given['floor']}", field="floor")
        rule.floor_id = given.pop("floor")
    channels = None
    if "channels" in given:
        wanted = given.pop("channels")
        channels = list(Channel.objects.filter(pk__in=wanted))
        missing = sorted(set(wanted) - {channel.pk for channel in channels})
        if missing:
            raise ApiError(400, f"no channel {missing[0]}", field="channels")
    for name, value in given.items():
        setattr(rule, name, value)
    try:
        rule.full_clean(exclude=["channels"])
    except ValidationError as error:
        raise _invalid(error) from None
    return channels


def _may_change_rules(user: Any, permission: str) -> None:
    if not user.has_perm(permission):
        raise ApiError(403, "only IT admins create and change alert rules")


@router.get(
    "/rules",
    response={200: RulePage, **ERRORS},
    url_name="alert_rules",
    operation_id="listAlertRules",
    summary="Alert rules in the caller's scope; paginated.",
)
def list_rules(request: HttpRequest, query: Query[PageQuery]) -> Any:
    return paginate(request, rules_visible_to(request.user).order_by("name", "pk"), query, rule_json)


@router.post(
    "/rules",
    response={201: RuleOut, **ERRORS},
    url_name="alert_rule_create",
    operation_id="createAlertRule",
    summary="A new alert rule (IT admins).",
)
def create_rule(request: HttpRequest, body: RuleIn) -> Any:
    _may_change_rules(request.user, "alerts.add_alertrule")
    if not body.name:
        raise ApiError(400, "give the rule a name", field="name")
    rule = AlertRule()
    channels = _apply(rule, body)
    with transaction.atomic():
        rule.save()
        rule.channels.set(channels or [])
    return 201, rule_json(AlertRule.objects.prefetch_related("channels").get(pk=rule.pk))


@router.get(
    "/rules/{int:rule_id}",
    response={200: RuleOut, **ERRORS},
    url_name="alert_rule",
    operation_id="getAlertRule",
    summary="One alert rule.",
)
def get_rule(request: HttpRequest, rule_id: int) -> Any:
    return rule_json(visible_rule(request.user, rule_id))


@router.patch(
    "/rules/{int:rule_id}",
    response={200: RuleOut, **ERRORS},
    url_name="alert_rule_update",
    operation_id="updateAlertRule",
    summary="Change an alert rule (IT admins).",
)
def update_rule(request: HttpRequest, rule_id: int, body: RuleIn) -> Any:
    rule = visible_rule(request.user, rule_id)
    _may_change_rules(request.user, "alerts.change_alertrule")
    channels = _apply(rule, body)
    with transaction.atomic():
        rule.save()
        if channels is not None:
            rule.channels.set(channels)
    return rule_json(AlertRule.objects.prefetch_related("channels").get(pk=rule.pk))


def channels_visible_to(user: Any) -> QuerySet[Channel]:
    if scope.sees_every_floor(user):
        return Channel.objects.all()
    return Channel.objects.filter(rules__in=rules_visible_to(user)).distinct()


def destination(channel: Channel) -> str:
    # Slack and Teams URLs are credentials in themselves: only the host is shown.
    return (
        ", ".join(channel.recipients) if channel.kind == "email" else (urlsplit(channel.url).hostname or "")
    )


@router.get(
    "/channels",
    response={200: list[ChannelOut], **ERRORS},
    url_name="alert_channels",
    operation_id="listAlertChannels",
    summary="Alert channels, without secrets or full URLs.",
)
def list_channels(request: HttpRequest) -> Any:
    return [
        {"id": c.pk, "name": c.name, "kind": c.kind, "destination": destination(c), "enabled": c.enabled}
        for c in channels_visible_to(request.user).order_by("name")
    ]


def deliveries_visible_to(user: Any, filters: DeliveryFilters | None = None) -> QuerySet[Delivery]:
    filters = filters or DeliveryFilters()
    floor_id = None
    if filters.floor is not None:
        floor = scope.floors_visible_to(user).filter(pk=filters.floor).first()
        if floor is None:
            raise ApiError(404, f"no floor {filters.floor}", field="floor", error="not_found")
        floor_id = floor.pk
    rows = delivering.deliveries_log(status=filters.status, channel_id=filters.channel, floor_id=floor_id)
    if filters.channel is not None and not Channel.objects.filter(pk=filters.channel).exists():
        raise ApiError(400, f"no channel {filters.channel}", field="channel")
    if not scope.sees_every_floor(user):
        rows = rows.filter(digest__floor__in=scope.floors_visible_to(user))
    return rows.prefetch_related("attempt_log").order_by("-created_at", "-pk")


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.pk,
        "status": delivery.status,
        "channel": delivery.channel_id,
        "channel_name": delivery.channel.name,
        "rule": delivery.digest.rule.name,
        "floor": delivery.digest.floor_id,
        "floor_name": delivery.digest.floor.name,
        "subject": delivery.subject,
        "idempotency_key": delivery.idempotency_key,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at,
        "delivered_at": delivery.delivered_at,
        "attempt_log": [
            {
                "number": a.number,
                "replay": a.replay,
                "started_at": a.started_at,
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "ok": a.ok,
                "error": a.error,
                "response_excerpt": a.response_excerpt,
            }
            for a in delivery.attempt_log.all()
        ],
    }


@router.get(
    "/deliveries",
    response={200: DeliveryPage, **ERRORS},
    url_name="alert_deliveries",
    operation_id="listAlertDeliveries",
    summary="The delivery log with every attempt, newest first; filter by status, channel, floor.",
)
def list_deliveries(request: HttpRequest, filters: Query[DeliveryFilters]) -> Any:
    return paginate(request, deliveries_visible_to(request.user, filters), filters, delivery_json)


@router.post(
    "/deliveries/{int:delivery_id}/replay",
    response={200: DeliveryOut, **ERRORS},
    url_name="alert_delivery_replay",
    operation_id="replayAlertDelivery",
    summary="Send a delivery again now (IT admins): the same body and idempotency key.",
)
def replay(request: HttpRequest, delivery_id: int) -> Any:
    if not deliveries_visible_to(request.user).filter(pk=delivery_id).exists():
        raise ApiError(404, f"no delivery {delivery_id}", error="not_found")
    if not request.user.has_perm("alerts.change_delivery"):
        raise ApiError(403, "only IT admins replay deliveries")
    delivering.replay_delivery(delivery_id)
    return delivery_json(deliveries_visible_to(request.user).get(pk=delivery_id))
