"""Trigram indexes so the contact search (`icontains` on name, email, company) stays fast at
millions of rows. PostgreSQL only (pg_trgm); other databases keep a sequential scan."""

from django.db import migrations

COLUMNS = ("full_name", "email", "company")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        # Django's icontains compiles to UPPER(column) LIKE UPPER(%s): index that expression.
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS contact_{column}_trgm ON contacts_contact USING gin (UPPER({column}) gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS contact_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0004_captureform_contactmerge_importjob_consentrecord")]
    operations = [migrations.RunPython(forwards, backwards)]
