"""Issue 20: the `whatsapp_sent` kind (the WhatsApp click-to-chat log), and two PostgreSQL indexes
for the global search and the new-contact duplicate check on large tables:
- a trigram index on phone, so the search's OR (name, email, company, phone) stays a bitmap
  scan over the four trigram indexes instead of a table scan (0005 indexed the other three);
- the mailbox key of an email (local part without "+tag" and dots), so "same mailbox" is one
  index lookup (contacts.duplicates.MAILBOX_SQL must stay the same expression). A frozen copy
  here, as migrations must not import app code that may change."""

from django.db import migrations

# A frozen copy of the catalog entry (contacts.catalog.KINDS) this migration adds.
KINDS = (("whatsapp_sent", "WhatsApp sent", "WhatsApp dikirim", "interest"),)
MAILBOX_SQL = "REPLACE(SPLIT_PART(SPLIT_PART(email, '@', 1), '+', 1), '.', '')"


def add_kinds(apps, schema_editor):
    InteractionKind = apps.get_model("contacts", "InteractionKind")
    existing = set(InteractionKind.objects.filter(slug__in=[k[0] for k in KINDS]).values_list("slug", flat=True))
    InteractionKind.objects.bulk_create(
        InteractionKind(slug=s, name=n, name_id=ni, intent_level=lvl) for s, n, ni, lvl in KINDS if s not in existing
    )


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Django's `contains` compiles to "phone"::text LIKE %s: index that expression.
    schema_editor.execute("CREATE INDEX IF NOT EXISTS contact_phone_trgm ON contacts_contact USING gin ((phone::text) gin_trgm_ops)")
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS contact_mailbox_key ON contacts_contact (({MAILBOX_SQL}))")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS contact_phone_trgm")
    schema_editor.execute("DROP INDEX IF EXISTS contact_mailbox_key")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0013_importjob_parsing")]
    operations = [
        migrations.RunPython(add_kinds, migrations.RunPython.noop),
        migrations.RunPython(add_indexes, drop_indexes),
    ]
