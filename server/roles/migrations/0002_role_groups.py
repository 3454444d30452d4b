"""The three roles as groups with their permissions (server/roles/groups.py holds the table).

Django creates permissions after the last migration (post_migrate); they are created here first
so the groups can hold them on a fresh database.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_role_groups(apps, schema_editor) -> None:
    from server.roles.groups import sync_role_groups

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps)


def remove_role_groups(apps, schema_editor) -> None:
    from server.roles.models import Role

    apps.get_model("auth", "Group").objects.filter(name__in=[role.group_name for role in Role]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
        ("fleet", "0002_checkin_indexes"),
        ("compliance", "0001_initial"),
        ("roles", "0001_supervision"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]
