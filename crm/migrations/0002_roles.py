"""The role groups and what Django admin lets each of them do (see crm.roles.GROUP_PERMISSIONS)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from crm.roles import ensure_groups

    ensure_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("contacts", "0003_builtin_kinds"),
        ("scoring", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
