"""Leave 30 % of each contacts page free, so that rescoring a contact whose indexed columns
do not change (a steady nightly rescore) rewrites the row in place (a HOT update) instead
of moving it and touching all thirteen indexes: 75 % of such updates became HOT (7.5 %
before) and the database's CPU per rescore fell by a third (docs/performance.md).
PostgreSQL only; it applies to pages written from now on."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE contacts_contact SET (fillfactor = 70)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE contacts_contact RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_search_trigram")]
    operations = [migrations.RunPython(forwards, backwards)]
