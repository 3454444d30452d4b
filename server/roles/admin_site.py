"""The admin is the IT admins' alone: being marked staff is not enough without the role."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class ReadyFloorAdminSite(admin.AdminSite):
    site_header = "ReadyFloor administration"
    site_title = "ReadyFloor"

    def has_permission(self, request: HttpRequest) -> bool:
        # Imported here: settings load this module (through the AdminConfig) before models exist.
        from server.roles.scope import can_use_admin

        return can_use_admin(request.user)


class ReadyFloorAdminConfig(AdminConfig):
    default_site = "server.roles.admin_site.ReadyFloorAdminSite"
