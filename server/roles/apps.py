from django.apps import AppConfig


class RolesConfig(AppConfig):
    name = "server.roles"
    label = "roles"
    verbose_name = "Roles"

    def ready(self) -> None:
        from server.roles import permissions  # noqa: F401  (registers the seat permissions with rules)
