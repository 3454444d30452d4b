"""The roles as Django groups with their permissions: one table, used by the data migration,
the demo and the tests (a test database flushed between tests loses the migration's rows)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.models import Group
from django.db import transaction

from server.roles.models import Role, Supervision

SUPERVISOR_PERMISSIONS = [
    "roles.view_supervised_floors",
    "roles.acknowledge_checks",
    "roles.request_recheck",
    "roles.send_fix_links",
    "fleet.view_site",
    "fleet.view_floor",
    "fleet.view_seat",
    "fleet.view_device",
    "compliance.view_checkresult",
    "compliance.view_seatevent",
]
AUDITOR_PERMISSIONS = ["roles.view_every_floor"]  # plus every view_* permission: read-only over all


def permissions_for(role: Role, permission_model: Any) -> Any:
    every = permission_model.objects.select_related("content_type")
    if role == Role.IT_ADMIN:
        return every.all()  # everything, including the admin and editing policy
    names = SUPERVISOR_PERMISSIONS if role == Role.SUPERVISOR else AUDITOR_PERMISSIONS
    wanted = {tuple(name.split(".", 1)) for name in names}
    return [
        permission
        for permission in every.all()
        if (permission.content_type.app_label, permission.codename) in wanted
        or (role == Role.AUDITOR and permission.codename.startswith("view_"))
    ]


def sync_role_groups(apps: Any = global_apps) -> None:
    """Create the three groups and give each exactly its permissions. Safe to run again, e.g.
    after a new app adds models (IT admins then get their permissions too)."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.group_name)
        group.permissions.set(permissions_for(role, permission_model))


@transaction.atomic
def assign_role(user: Any, role: Role, *, floors: Iterable[Any] = (), teams: Iterable[str] = ()) -> None:
    """Make `user` hold exactly `role`; a supervisor is given `floors` and `teams` to look after.

    Only IT admins are staff: the admin site is theirs alone.
    """
    if not Group.objects.filter(name=role.group_name).exists():
        sync_role_groups()
    role_groups = Group.objects.filter(name__in=[other.group_name for other in Role])
    user.groups.remove(*role_groups)
    user.groups.add(Group.objects.get(name=role.group_name))
    user.is_staff = role == Role.IT_ADMIN
    user.save(update_fields=["is_staff"])
    for floor in floors:
        Supervision.objects.get_or_create(user=user, floor=floor, team="")
    for team in teams:
        Supervision.objects.get_or_create(user=user, floor=None, team=team)
    # Django caches permissions on the user object; the new role must count at once.
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache", "_rf_supervisions"):
        user.__dict__.pop(cache, None)
