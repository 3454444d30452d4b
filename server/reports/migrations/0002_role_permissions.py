"""IT admins hold every permission, auditors every view_ one (server/roles/groups.py): give them
those of the reports app too. Permissions are created here, ahead of post_migrate, as
roles/0002 does, so a fresh database has them when the groups are synced."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def sync_groups(apps, schema_editor) -> None:
    from server.roles.groups import sync_role_groups

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("roles", "0002_role_groups"),
        ("reports", "0001_report_schedules_runs_files_deliveries"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(sync_groups, migrations.RunPython.noop)]
