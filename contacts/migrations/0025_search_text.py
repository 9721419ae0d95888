"""Issue 21: the search's text moves to a table of its own (contacts.search_text): triggers keep it,
one trigram index over it replaces the four on contacts (full name, email, company, phone), so a
rescore's rewrite of a contact row no longer inserts into trigram indexes. The owner's own index goes
too (contact_owner_stage serves lookups by owner)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


OWNER_INDEX = "contacts_contact_owner_id_0103c1ee"  # the name Django gave it
OLD_TRIGRAM_INDEXES = {  # as migrations 0005 and 0014 made them
    "contact_full_name_trgm": "UPPER(full_name) gin_trgm_ops",
    "contact_email_trgm": "UPPER(email) gin_trgm_ops",
    "contact_company_trgm": "UPPER(company) gin_trgm_ops",
    "contact_phone_trgm": "(phone::text) gin_trgm_ops",
}


def install(apps, schema_editor):
    from contacts.search_text import index_sql, rebuild_sql, triggers_install

    connection = schema_editor.connection
    triggers_install(connection)
    for statement in rebuild_sql(connection.vendor):
        schema_editor.execute(statement)
    if connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(index_sql())
        for name in OLD_TRIGRAM_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def remove(apps, schema_editor):
    from contacts.search_text import triggers_remove

    triggers_remove(schema_editor.connection)
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in OLD_TRIGRAM_INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON contacts_contact USING gin ({definition})")


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0024_source_filter_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ContactSearch',
            fields=[
                ('contact', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='contacts.contact')),
                ('text', models.TextField()),
            ],
        ),
        # State only, plus a DROP INDEX: on SQLite, AlterField would rebuild contacts_contact, which
        # drops the table's triggers and breaks the rollup's triggers that name it.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='contact',
                    name='owner',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='owned_contacts', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
                ),
            ],
            database_operations=[migrations.RunSQL(f"DROP INDEX IF EXISTS {OWNER_INDEX}",
                                                   f"CREATE INDEX {OWNER_INDEX} ON contacts_contact (owner_id)")],
        ),
        migrations.RunPython(install, remove),
    ]
