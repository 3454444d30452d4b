from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "server.compliance"
    label = "compliance"

    def ready(self) -> None:
        # Fleet must not import compliance, yet a check-in needs the policy that governs its
        # seat (in the same statement) and an evaluation queued after commit: hand ingest both.
        from server.compliance import governing, tasks
        from server.fleet import ingest

        ingest.install(device_sql=governing.device_sql, queue_evaluation=tasks.queue_checkin_evaluation)
