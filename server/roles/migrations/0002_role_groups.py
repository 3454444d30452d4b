"""The three roles as groups with their permissions (server/roles/groups.py holds the table).

Django creates permissions after the last migration (post_migrate); they are created here first
so the groups can hold them on a fresh database.
"""

from django.db import migrations

from server.roles.migrations._sync import create_role_groups


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
