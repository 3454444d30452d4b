from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from server.roles.models import Supervision


@admin.register(Supervision)
class SupervisionAdmin(admin.ModelAdmin):
    list_display = ["user", "floor", "team", "created_at"]
    list_filter = ["floor__site", "floor"]
    search_fields = ["user__username", "team", "floor__name"]
    autocomplete_fields = ["user"]


class SupervisionInline(admin.TabularInline):
    """A supervisor's floors and teams on their own user page, beside their group (role)."""

    model = Supervision
    extra = 1
    fields = ["floor", "team"]
    verbose_name = "floor or team supervised"
    verbose_name_plural = "Floors and teams supervised (for the Supervisors group)"


class ReadyFloorUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, SupervisionInline]
    list_display = ["username", "email", "first_name", "last_name", "role_groups", "is_active"]

    @admin.display(description="role")
    def role_groups(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")


admin.site.unregister(User)
admin.site.register(User, ReadyFloorUserAdmin)
