"""Operator API, policies: read them and their versions, diff two versions, preview a change,
and change one (IT admins), through compliance.policy_versions and compliance.preview.

A supervisor sees the default policy and those of the sites and floors in their scope; IT
admins and auditors see every policy. Values are validated by the policy form's own fields
and the model's clean (the catalog), so the API refuses exactly what the admin refuses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict
from readyfloor_agent.checks import CATALOG

from server.api.errors import ApiError, ErrorOut
from server.api.paging import Page, PageQuery, paginate
from server.compliance import policy_versions, preview
from server.compliance.forms import PolicyForm, severity_field_name
from server.compliance.models import Policy, PolicyVersion
from server.roles import scope

router = Router(tags=["policies"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
CHANGE_POLICY = "compliance.change_policy"


class PolicyOut(Schema):
    id: int
    name: str
    scope: str = Field(description="floor, site or default: which seats the policy can govern.")
    site: int | None
    floor: int | None
    cti_origins: list[str]
    notifications_required: bool
    min_chrome_major: int | None
    approved_headsets: list[str]
    freshness_s: int
    checkin_interval_s: int
    disabled_checks: list[str]
    browsers: list[str]
    severities: dict[str, str]
    version: int | None = Field(description="The number of the version in force.")
    updated_at: dt.datetime


class PolicyPage(Page):
    results: list[PolicyOut]


class ChangeOut(Schema):
    field: str
    label: str
    before: Any = None
    after: Any = None
    text: str


class VersionOut(Schema):
    number: int
    created_at: dt.datetime
    created_by: str | None
    comment: str
    changes: list[ChangeOut] = Field(description="Against the version before.")
    content: dict[str, Any] = Field(description="The policy's fields as saved.")


class VersionPage(Page):
    results: list[VersionOut]


class DiffQuery(Schema):
    from_version: int = Field(..., ge=1, description="The older version's number.")
    to_version: int = Field(..., ge=1, description="The newer version's number.")


class DiffOut(Schema):
    policy: int
    from_version: int
    to_version: int
    changes: list[ChangeOut]


class PolicyChanges(Schema):
    """The fields to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    cti_origins: list[str] | None = None
    notifications_required: bool | None = None
    min_chrome_major: int | None = None
    approved_headsets: list[str] | None = None
    freshness_s: int | None = None
    checkin_interval_s: int | None = None
    disabled_checks: list[str] | None = None
    browsers: list[str] | None = None
    severities: dict[str, str] | None = Field(
        None, description='Overrides, e.g. {"os.mic.in_use": "critical"}.'
    )


class PolicyUpdate(PolicyChanges):
    comment: str = Field("", description="Why: kept with the new version.")


class ImpactOut(Schema):
    seats: int = Field(description="Seats with a workstation the policy would govern.")
    unchanged: int
    moves: list[dict[str, Any]] = Field(description='[{"from": "ready", "to": "not_ready", "seats": 12}]')
    summary: list[str]


class UpdatedOut(Schema):
    policy: PolicyOut
    version: VersionOut | None = Field(
        description="The version this change created; null when nothing changed."
    )


def policies_visible_to(user: Any) -> QuerySet[Policy]:
    """Every policy for those who see every floor; else the default policies and those of the
    sites and floors in the user's scope (the ones that can govern their seats)."""
    policies = Policy.objects.select_related("current_version")
    if scope.sees_every_floor(user):
        return policies
    if not scope.can_read_fleet(user):
        return policies.none()
    return policies.filter(
        Q(site__isnull=True, floor__isnull=True)
        | Q(site__in=scope.sites_visible_to(user))
        | Q(floor__in=scope.floors_visible_to(user))
    )


def visible_policy(user: Any, policy_id: int) -> Policy:
    policy = policies_visible_to(user).filter(pk=policy_id).first()
    if policy is None:
        # The same answer whether it does not exist or is outside the caller's scope.
        raise ApiError(404, f"no policy {policy_id}", error="not_found")
    return policy


def policy_json(policy: Policy) -> dict[str, Any]:
    content = policy_versions.content_of(policy)
    return {
        **content,
        "id": policy.pk,
        "scope": "floor" if policy.floor_id else "site" if policy.site_id else "default",
        "version": policy.current_version.number if policy.current_version_id else None,
        "updated_at": policy.updated_at,
    }


def version_json(version: PolicyVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "created_at": version.created_at,
        "created_by": version.created_by.get_username() if version.created_by_id else None,
        "comment": version.comment,
        "changes": [{**change, "text": policy_versions.describe(change)} for change in version.changes],
        "content": version.content,
    }


@router.get(
    "",
    response={200: PolicyPage, **ERRORS},
    url_name="policies",
    operation_id="listPolicies",
    summary="Policies in the caller's scope (the default, their sites' and floors'); paginated.",
)
def list_policies(request: HttpRequest, query: Query[PageQuery]) -> Any:
    policies = policies_visible_to(request.user).order_by("pk")
    return paginate(request, policies, query, policy_json)


@router.get(
    "/{int:policy_id}",
    response={200: PolicyOut, **ERRORS},
    url_name="policy",
    operation_id="getPolicy",
    summary="One policy with the number of the version in force.",
)
def get_policy(request: HttpRequest, policy_id: int) -> Any:
    return policy_json(visible_policy(request.user, policy_id))


@router.get(
    "/{int:policy_id}/versions",
    response={200: VersionPage, **ERRORS},
    url_name="policy_versions",
    operation_id="listPolicyVersions",
    summary="A policy's versions, newest first; paginated.",
)
def list_versions(request: HttpRequest, policy_id: int, query: Query[PageQuery]) -> Any:
    policy = visible_policy(request.user, policy_id)
    versions = policy.versions.select_related("created_by").order_by("-number")
    return paginate(request, versions, query, version_json)


def _version(policy: Policy, number: int, field: str = "number") -> PolicyVersion:
    version = policy.versions.select_related("created_by").filter(number=number).first()
    if version is None:
        raise ApiError(404, f"policy {policy.pk} has no version {number}", field=field, error="not_found")
    return version


@router.get(
    "/{int:policy_id}/versions/{int:number}",
    response={200: VersionOut, **ERRORS},
    url_name="policy_version",
    operation_id="getPolicyVersion",
    summary="One version of a policy.",
)
def get_version(request: HttpRequest, policy_id: int, number: int) -> Any:
    return version_json(_version(visible_policy(request.user, policy_id), number))


@router.get(
    "/{int:policy_id}/diff",
    response={200: DiffOut, **ERRORS},
    url_name="policy_diff",
    operation_id="diffPolicyVersions",
    summary="What changed from one version of a policy to another.",
)
def diff_versions(request: HttpRequest, policy_id: int, query: Query[DiffQuery]) -> Any:
    policy = visible_policy(request.user, policy_id)
    older = _version(policy, query.from_version, "from_version")
    newer = _version(policy, query.to_version, "to_version")
    return {
        "policy": policy.pk,
        "from_version": older.number,
        "to_version": newer.number,
        "changes": policy_versions.diff(older, newer),
    }


def _invalid(error: ValidationError) -> ApiError:
    """The first of Django's errors as ours, naming its field (None for a whole-form error)."""
    if hasattr(error, "error_dict"):
        field, messages = next(iter(error.message_dict.items()))
        return ApiError(400, messages[0], field=None if field == "__all__" else field)
    return ApiError(400, error.messages[0])


def validated_changes(body: PolicyChanges) -> dict[str, Any]:
    """The changes given, each cleaned by the policy form's field for it: origins must parse,
    headset ids must look like USB ids, checks and browsers must be the catalog's, severities
    the catalog's choices. Refused naming the field (and the check, for a severity)."""
    given = body.model_dump(exclude_unset=True, exclude={"comment"})
    nulls = [name for name, value in given.items() if value is None and name != "min_chrome_major"]
    if nulls:
        raise ApiError(400, "must not be null; leave the field out to keep its value", field=nulls[0])
    fields = PolicyForm.base_fields
    cleaned: dict[str, Any] = {}
    try:
        for name, value in given.items():
            if name == "severities":
                cleaned[name] = _clean_severities(value)
            elif name in {"cti_origins", "approved_headsets", "disabled_checks", "browsers"}:
                try:
                    cleaned[name] = list(fields[name].clean(value))
                except ValidationError as error:
                    raise ValidationError({name: error.messages}) from error
            else:
                cleaned[name] = value
    except ValidationError as error:
        raise _invalid(error) from None
    if "browsers" in cleaned and not cleaned["browsers"]:
        cleaned["browsers"] = ["chrome"]  # as the form: none ticked means the softphone runs in Chrome
    return cleaned


def _clean_severities(value: dict[str, str]) -> dict[str, str]:
    known = {check.id: check for check in CATALOG}
    severities = {}
    for check_id, severity in value.items():
        if check_id not in known:
            raise ValidationError({f"severities.{check_id}": f"{check_id!r} is not a check of the catalog"})
        field = PolicyForm.base_fields[severity_field_name(check_id)]
        try:
            chosen = field.clean(severity)
        except ValidationError as error:
            raise ValidationError({f"severities.{check_id}": error.messages}) from error
        if chosen and chosen != known[check_id].severity:
            severities[check_id] = chosen  # the catalog's own severity is no override
    return dict(sorted(severities.items()))


def _changed(policy: Policy, changes: dict[str, Any]) -> Policy:
    """A copy of `policy` with the changes, checked by the model (and so by the catalog)."""
    for name, value in changes.items():
        setattr(policy, name, value)
    try:
        policy.full_clean()
    except ValidationError as error:
        raise _invalid(error) from None
    return policy


@router.post(
    "/{int:policy_id}/preview",
    response={200: ImpactOut, **ERRORS},
    url_name="policy_preview",
    operation_id="previewPolicyChange",
    summary="What a change would do: how many seats would move to which readiness. Nothing is saved.",
)
def preview_change(request: HttpRequest, policy_id: int, body: PolicyChanges) -> Any:
    policy = visible_policy(request.user, policy_id)
    if not scope.sees_every_floor(request.user):
        # The preview counts every seat the policy governs, beyond the caller's own floors.
        raise ApiError(403, "the preview counts seats on every floor the policy governs; ask an IT admin")
    changes = validated_changes(body)
    candidate = _changed(Policy.objects.get(pk=policy.pk), changes)
    try:
        impact = preview.impact(policy, {name: getattr(candidate, name) for name in changes})
    except ValueError as error:
        name, _, message = str(error).partition(": ")
        raise ApiError(400, message or str(error), field=name if message else None) from None
    return impact.to_dict()


@router.patch(
    "/{int:policy_id}",
    response={200: UpdatedOut, **ERRORS},
    url_name="policy_update",
    operation_id="updatePolicy",
    summary="Change a policy (IT admins): creates a version, then every governed seat is judged again.",
)
def update_policy(request: HttpRequest, policy_id: int, body: PolicyUpdate) -> Any:
    policy = visible_policy(request.user, policy_id)
    if not request.user.has_perm(CHANGE_POLICY):
        raise ApiError(403, "only IT admins change policies")
    changes = validated_changes(body)
    policy = _changed(policy, changes)
    try:
        version = policy_versions.save(policy, by=request.user, comment=body.comment.strip())
    except ValidationError as error:
        raise _invalid(error) from None
    policy.refresh_from_db()
    policy = Policy.objects.select_related("current_version").get(pk=policy.pk)
    return {"policy": policy_json(policy), "version": version_json(version) if version else None}
