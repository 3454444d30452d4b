"""Operator API tokens. Only a hash is stored; the token is shown once when created."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from server.fleet.models import sha256_hex


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, user, name: str) -> tuple[ApiToken, str]:
        plain = "rf_" + secrets.token_urlsafe(30)
        token = cls.objects.create(user=user, name=name, token_hash=sha256_hex(plain), hint=plain[:8])
        return token, plain

    @classmethod
    def authenticate(cls, plain: str):
        """The active user behind a token, or None."""
        token = (
            cls.objects.select_related("user")
            .filter(token_hash=sha256_hex(plain), revoked_at=None, user__is_active=True)
            .first()
        )
        if token is None:
            return None
        now = timezone.now()
        # Writing on every request would turn reads into writes; a minute's precision is enough.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user
