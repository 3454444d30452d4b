"""Object permissions for Django's `user.has_perm(name, seat)`, through django-rules.

Django's auth checks model permissions (group-granted) but leaves per-object questions to an
authentication backend; `rules` is that backend, small and without tables. The rule itself stays
in server.roles.scope: these names only expose `can_act_on` to the standard API, so a view, a
template (`{% load rules %}{% has_perm "roles.recheck_seat" user seat as can %}`) or another app
(acknowledgements, fix links) asks in the usual Django way.
"""

from __future__ import annotations

from typing import Any

import rules

from server.roles.scope import Action, can_act_on


def _seat_predicate(action: Action) -> Any:
    @rules.predicate(name=f"can_{action.value}_seat")
    def predicate(user: Any, seat: Any = None) -> bool:
        return can_act_on(user, seat, action)

    return predicate


SEAT_PERMISSIONS = {f"roles.{action.value}_seat": action for action in Action}

for name, action in SEAT_PERMISSIONS.items():
    rules.add_perm(name, _seat_predicate(action))
