from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "server.alerts"
    label = "alerts"
    verbose_name = "Alerts"
