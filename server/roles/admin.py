from django.contrib import admin

from server.roles.models import Supervision


@admin.register(Supervision)
class SupervisionAdmin(admin.ModelAdmin):
    list_display = ["user", "floor", "team", "created_at"]
    list_filter = ["floor__site", "floor"]
    search_fields = ["user__username", "team", "floor__name"]
    autocomplete_fields = ["user"]
