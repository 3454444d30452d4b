"""Django's ModelBackend, loading an account's permissions together with the account.

Every page and API call asks the account's role (server.roles.scope), which costs ModelBackend
two more queries per request (own permissions, group permissions). Here the session's user row
comes with both, aggregated in the same statement, so a page costs what it did before roles.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Q, Value
from django.db.models.functions import Concat


def _names(relation: str) -> ArrayAgg:
    return ArrayAgg(
        Concat(f"{relation}__content_type__app_label", Value("."), f"{relation}__codename"),
        distinct=True,
        filter=Q(**{f"{relation}__isnull": False}),
        default=Value([]),
    )


class RoleBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        user = (
            user_model._default_manager.filter(pk=user_id)
            .annotate(
                own_permission_names=_names("user_permissions"),
                group_permission_names=_names("groups__permissions"),
            )
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:
            # The caches ModelBackend itself fills and reads (see ModelBackend._get_permissions).
            user._user_perm_cache = set(user.own_permission_names)
            user._group_perm_cache = set(user.group_permission_names)
            user._perm_cache = user._user_perm_cache | user._group_perm_cache
        return user
