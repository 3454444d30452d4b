from django.apps import AppConfig


class AcknowledgementsConfig(AppConfig):
    name = "server.acknowledgements"
    label = "acknowledgements"
    verbose_name = "Acknowledgements"
