from django.apps import AppConfig


class ShiftsConfig(AppConfig):
    name = "server.shifts"
    label = "shifts"
    verbose_name = "Shifts"
