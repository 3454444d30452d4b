"""How an operator proves who they are: an API token or a signed-in session.

Both end in the same question to server.roles.scope: may this account read the fleet at all?
Which seats it then sees is the scope's business, per endpoint.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import APIKeyCookie, HttpBearer

from server.accounts.models import ApiToken
from server.roles import scope


def _allowed(request: HttpRequest, user: Any) -> Any:
    if not scope.can_read_fleet(user):
        raise AuthorizationError(message="this account has no ReadyFloor role; ask an IT admin for one")
    request.user = user
    return user


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer rf_…` (`Token rf_…` is accepted too, as it always was)."""

    def __call__(self, request: HttpRequest) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in {"bearer", "token"} or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = ApiToken.authenticate(token)
        if user is None:
            # A bad token is refused even when a session cookie rides along: a script must learn
            # that its token is dead, not silently act as whoever last used the browser.
            raise AuthenticationError(message="unknown or revoked API token")
        return _allowed(request, user)


class SessionAuth(APIKeyCookie):
    """The dashboard's own session, so the page's CSV link and JSON figures need no token."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not request.user.is_authenticated:
            return None
        return _allowed(request, request.user)


OPERATOR_AUTH = [ApiTokenAuth(), SessionAuth()]
