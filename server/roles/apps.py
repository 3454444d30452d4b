from django.apps import AppConfig


class RolesConfig(AppConfig):
    name = "server.roles"
    label = "roles"
    verbose_name = "Roles"
