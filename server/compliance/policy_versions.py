"""Policy versions: every save of a policy is an immutable, numbered record with who saved
it, why, and a readable list of what changed.

`save(policy, by=..., comment=...)` is the one way to change a policy (the admin uses it,
and so will the operator API): it stores the policy's fields and its new version in one
transaction, and only after commit asks the worker to re-judge the seats whose verdict now
names an older version. A task that is lost, or a worker that read the policy just before
the commit, is healed by the sweep, which re-judges every such seat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from server.compliance import tasks
from server.compliance.models import Policy, PolicyVersion

# The fields a version records, with the words the diff uses for them.
LABELS: dict[str, str] = {
    "name": "Name",
    "site": "Site",
    "floor": "Floor",
    "cti_origins": "CTI origins",
    "notifications_required": "Notifications required",
    "min_chrome_major": "Minimum Chrome major version",
    "approved_headsets": "Approved headsets",
    "freshness_s": "Freshness window (s)",
    "checkin_interval_s": "Check-in interval (s)",
    "disabled_checks": "Disabled checks",
    "browsers": "Browsers",
    "severities": "Severity overrides",
}


def content_of(policy: Policy) -> dict[str, Any]:
    """The policy's fields as a version stores them (site and floor by id)."""
    content = {field: getattr(policy, field) for field in LABELS if field not in {"site", "floor"}}
    content["site"], content["floor"] = policy.site_id, policy.floor_id
    content["cti_origins"] = list(content["cti_origins"] or [])
    content["approved_headsets"] = list(content["approved_headsets"] or [])
    content["disabled_checks"] = sorted(content["disabled_checks"] or [])
    content["browsers"] = list(content["browsers"] or ["chrome"])
    content["severities"] = dict(sorted((content["severities"] or {}).items()))
    return content


def changes_between(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What changed from one content to the next, field by field, in LABELS order."""
    before = before or {}
    return [
        {"field": field, "label": label, "before": before.get(field), "after": after.get(field)}
        for field, label in LABELS.items()
        if before.get(field) != after.get(field)
    ]


def describe(change: Mapping[str, Any]) -> str:
    """One change in words: lists say what was added and removed, mappings which keys moved."""
    label, before, after = change["label"], change["before"], change["after"]
    if isinstance(after, list) or isinstance(before, list):
        old, new = list(before or []), list(after or [])
        added = [str(x) for x in new if x not in old]
        removed = [str(x) for x in old if x not in new]
        parts = ([f"added {', '.join(added)}"] if added else []) + (
            [f"removed {', '.join(removed)}"] if removed else []
        )
        said = "; ".join(parts) or f"reordered to {', '.join(map(str, new))}"
        return f"{label}: {said}"
    if isinstance(after, dict) or isinstance(before, dict):
        old, new = dict(before or {}), dict(after or {})
        parts = [
            f"{key} {old.get(key, 'default')} → {new.get(key, 'default')}"
            for key in sorted(set(old) | set(new))
            if old.get(key) != new.get(key)
        ]
        return f"{label}: {'; '.join(parts)}"
    return f"{label}: {_shown(before)} → {_shown(after)}"


def _shown(value: Any) -> str:
    return "none" if value is None or value == "" else str(value)


def describe_all(changes: list[dict[str, Any]]) -> list[str]:
    return [describe(change) for change in changes] or ["no change"]


def diff(a: PolicyVersion, b: PolicyVersion) -> list[dict[str, Any]]:
    """What changed from version `a` to version `b` (of the same policy or not), each
    change with its words under "text"."""
    return [{**change, "text": describe(change)} for change in changes_between(a.content, b.content)]


def record(policy: Policy, *, by: AbstractBaseUser | None = None, comment: str = "") -> PolicyVersion | None:
    """Record the saved `policy` as its next version, in the caller's transaction; None when
    nothing changed since the version in force (saving again must not re-judge 100k seats).

    The policy row is locked first, so two saves of one policy number their versions in
    the order they commit."""
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    previous = PolicyVersion.objects.filter(pk=locked.current_version_id).first()
    content = content_of(locked)
    if previous is not None and previous.content == content:
        return None
    version = PolicyVersion.objects.create(
        policy=locked,
        number=(previous.number + 1) if previous else 1,
        content=content,
        changes=changes_between(previous.content if previous else None, content),
        comment=comment,
        created_by=by if by is not None and by.pk else None,
        created_at=timezone.now(),
    )
    Policy.objects.filter(pk=locked.pk).update(current_version=version)
    policy.current_version = version
    return version


def save(policy: Policy, *, by: AbstractBaseUser | None = None, comment: str = "") -> PolicyVersion | None:
    """Save `policy` and record its version atomically; after commit, queue the re-judging
    of every seat judged under another version. The new version, or None if nothing changed."""
    with transaction.atomic():
        policy.full_clean()
        policy.save()
        version = record(policy, by=by, comment=comment)
        if version is not None:
            transaction.on_commit(tasks.queue_reevaluation)
    return version
