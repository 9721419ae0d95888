from django.db import migrations

# A frozen copy of the catalog entry (contacts.catalog.KINDS) this migration adds.
KINDS = (("whatsapp_sent", "WhatsApp sent by a rep", "WhatsApp dikirim oleh sales", "awareness"),)


def forwards(apps, schema_editor):
    InteractionKind = apps.get_model("contacts", "InteractionKind")
    existing = set(InteractionKind.objects.filter(slug__in=[k[0] for k in KINDS]).values_list("slug", flat=True))
    InteractionKind.objects.bulk_create(
        InteractionKind(slug=s, name=n, name_id=ni, intent_level=lvl) for s, n, ni, lvl in KINDS if s not in existing
    )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0013_importjob_parsing")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
