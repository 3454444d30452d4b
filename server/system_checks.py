"""Django system checks that catch unsafe production settings (`manage.py check --deploy`
shows Django's own on top of these)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def readyfloor_production_settings(app_configs, **kwargs) -> list[Warning]:
    warnings = []
    if settings.INSECURE_SECRET_KEY:
        warnings.append(
            Warning(
                "SECRET_KEY is the built-in local value.",
                hint="Set SECRET_KEY to a long random string, e.g. from secrets.token_urlsafe(50).",
                id="readyfloor.W001",
            )
        )
    if settings.DEBUG:
        warnings.append(Warning("DEBUG is on.", hint="Unset DEBUG in production.", id="readyfloor.W002"))
    if settings.EMBEDDED_POSTGRES or settings.EMBEDDED_REDIS:
        warnings.append(
            Warning(
                "The embedded PostgreSQL/Redis are in use.",
                hint="Set DATABASE_URL and REDIS_URL to managed services for production.",
                id="readyfloor.W003",
            )
        )
    if "*" in settings.ALLOWED_HOSTS:
        warnings.append(
            Warning("ALLOWED_HOSTS contains '*'.", hint="List the server's host names.", id="readyfloor.W004")
        )
    return warnings
