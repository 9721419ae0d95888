"""The rollup's and the search text's trigger functions again, now with JIT off (contacts.rollup.NO_JIT).
Only the functions are replaced (CREATE OR REPLACE takes no lock on contacts; the triggers exist)."""

from django.db import migrations


def reinstall(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return  # SQLite has no JIT
    from contacts import rollup, search_text

    rollup.triggers_install(connection)
    search_text.triggers_install(connection)


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0025_search_text"),
    ]

    operations = [
        migrations.RunPython(reinstall, migrations.RunPython.noop),
    ]
