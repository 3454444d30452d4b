from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "server.compliance"
    label = "compliance"
