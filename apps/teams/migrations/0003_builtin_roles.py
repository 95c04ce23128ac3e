"""Create the built-in roles: platform_admin, team_admin, developer, viewer."""

from django.db import migrations

BUILTIN = {
    "platform_admin": ("global", "Every permission everywhere.", ["*"]),
    "team_admin": (
        "team",
        "Manages a team: its members, its catalog objects and its tokens.",
        ["agents.*", "gateways.*", "prompts.*", "resources.*", "servers.*", "tools.*",
         "teams.delete", "teams.manage", "teams.read", "teams.update", "tokens.*"],
    ),
    "developer": (
        "team",
        "Builds with a team's catalog: reads, creates, changes and runs objects.",
        ["agents.*", "gateways.*", "prompts.*", "resources.*", "servers.*", "tools.*",
         "teams.read", "tokens.create", "tokens.read"],
    ),
    "viewer": (
        "team",
        "Reads a team's catalog and runs its tools.",
        ["agents.read", "gateways.read", "prompts.read", "resources.read", "servers.read", "tools.read",
         "tools.execute", "teams.read"],
    ),
}


def create(apps, schema_editor):
    Role = apps.get_model("teams", "Role")
    for name, (scope, description, permissions) in BUILTIN.items():
        Role.objects.update_or_create(
            name=name,
            defaults={"scope": scope, "description": description, "permissions": permissions, "is_system_role": True},
        )


def remove(apps, schema_editor):
    apps.get_model("teams", "Role").objects.filter(name__in=BUILTIN, is_system_role=True).delete()


class Migration(migrations.Migration):
    dependencies = [("teams", "0002_team_group_role_teaminvitation_roleassignment_and_more")]
    operations = [migrations.RunPython(create, remove)]
