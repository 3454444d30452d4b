"""The roles' groups again, once shifts, acknowledgements, alerts and reports exist: IT admins get
their permissions (the admin for shifts, alert rules, deliveries, report schedules) and auditors
their view_* ones.
The table is server/roles/groups.py; running it twice changes nothing."""

from django.db import migrations

from server.roles.migrations import _sync


class Migration(migrations.Migration):
    dependencies = [
        ("roles", "0002_role_groups"),
        ("shifts", "0001_shifts"),
        ("acknowledgements", "0001_acknowledgements_and_audit"),
        ("alerts", "0001_rules_channels_digests_deliveries"),
        ("reports", "0001_report_schedules_runs_files_deliveries"),
        ("compliance", "0003_check_history"),
        ("fleet", "0004_device_recheck"),
    ]

    operations = [migrations.RunPython(_sync.create_role_groups, migrations.RunPython.noop)]
