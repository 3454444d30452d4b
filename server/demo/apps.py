from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo floor and `manage.py serve`, which runs the whole product (`make run`).

    Its own app because it spans fleet (sites, seats, enroll secrets) and compliance (the
    floor's policy), and fleet must not depend on compliance."""

    name = "server.demo"
    label = "demo"
