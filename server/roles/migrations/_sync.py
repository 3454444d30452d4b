"""What the roles' data migrations run: make every app's permissions now (Django would only after
the last migration), then give each role's group its permissions (server/roles/groups.py)."""

from django.contrib.auth.management import create_permissions


def create_role_groups(apps, schema_editor) -> None:
    from server.roles.groups import sync_role_groups

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(apps)
