from django.contrib import admin, messages
from django.http import HttpRequest

from server.accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "hint", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "hint", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["hint", "created_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, plain = ApiToken.issue(obj.user, obj.name)
        obj.pk, obj.hint = token.pk, token.hint
        self.message_user(
            request, f"New API token (copy it now, it is not shown again): {plain}", messages.WARNING
        )
