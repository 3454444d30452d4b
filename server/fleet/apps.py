from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "server.fleet"
    label = "fleet"

    def ready(self) -> None:
        from server import system_checks  # noqa: F401 - registers the checks
