"""The rep-side interaction kinds (not scored by any playbook), and every open follow-up note
(Note.kind follow_up with a due time, not done) turned into a task for the contact's owner.
The note stays as a plain note, so its text is still on the timeline."""

from django.db import migrations

# A frozen copy of the kinds contacts.catalog.KINDS gained with this app.
KINDS = (
    ("call_made", "Call made", "Menelepon", "interest"),
    ("meeting_held", "Meeting held", "Pertemuan diadakan", "interest"),
    ("whatsapp_sent", "WhatsApp sent", "WhatsApp dikirim", "interest"),
)
BATCH = 2000


def kinds(apps, schema_editor):
    InteractionKind = apps.get_model("contacts", "InteractionKind")
    existing = set(InteractionKind.objects.values_list("slug", flat=True))
    InteractionKind.objects.bulk_create(
        InteractionKind(slug=s, name=n, name_id=ni, intent_level=lvl) for s, n, ni, lvl in KINDS if s not in existing
    )


def notes_to_tasks(apps, schema_editor):
    Note = apps.get_model("contacts", "Note")
    Task = apps.get_model("followup", "Task")
    open_notes = Note.objects.filter(kind="follow_up", due_at__isnull=False, done_at__isnull=True)
    while batch := list(open_notes.select_related("contact").order_by("pk")[:BATCH]):
        Task.objects.bulk_create(
            Task(contact_id=n.contact_id, type="call", due_at=n.due_at, assignee_id=n.contact.owner_id, note=n.body,
                 created_by_id=n.author_id, created_at=n.created_at)
            for n in batch
        )
        Note.objects.filter(pk__in=[n.pk for n in batch]).update(kind="note", due_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("followup", "0001_initial"),
        ("contacts", "0013_importjob_parsing"),
    ]
    operations = [
        migrations.RunPython(kinds, migrations.RunPython.noop),
        migrations.RunPython(notes_to_tasks, migrations.RunPython.noop),
    ]
