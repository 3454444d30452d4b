"""The roles' groups again, once enrolment claims, device moves, reports' own permissions and the
policy's browsers exist: IT admins get their permissions for the new models, auditors their view_*.
The table is server/roles/groups.py; running it twice changes nothing. An app that adds models
adds a migration like this one (depending on its latest), or IT admins cannot open them."""

from django.db import migrations

from server.roles.migrations import _sync


class Migration(migrations.Migration):
    dependencies = [
        ("roles", "0003_role_groups_for_newer_apps"),
        ("fleet", "0007_device_moves"),
        ("compliance", "0005_policy_browsers"),
        ("alerts", "0002_enrolment_claim_entries"),
        ("reports", "0002_role_permissions"),
    ]

    operations = [migrations.RunPython(_sync.create_role_groups, migrations.RunPython.noop)]
