import django.db.models.deletion
from django.db import migrations, models


def chunks_of_unfinished_jobs(apps, schema_editor):
    """A job left running by the previous version counted its progress in rows_done alone, in chunks
    of 1,000 (the tasks' size): its committed chunks are recorded so it resumes where it stopped."""
    ImportJob = apps.get_model("contacts", "ImportJob")
    ImportChunk = apps.get_model("contacts", "ImportChunk")
    for job in ImportJob.objects.filter(status__in=["queued", "running"], rows_done__gt=0).only("pk", "rows_done", "options"):
        ImportChunk.objects.bulk_create(ImportChunk(job_id=job.pk, number=n) for n in range(-(-job.rows_done // 1000)))
        ImportJob.objects.filter(pk=job.pk).update(options={**job.options, "chunk_size": 1000})


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0026_triggers_without_jit'),
    ]

    operations = [
        migrations.CreateModel(
            name='ImportChunk',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField()),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chunks', to='contacts.importjob')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('job', 'number'), name='import_chunk_once')],
            },
        ),
        migrations.RunPython(chunks_of_unfinished_jobs, migrations.RunPython.noop),
    ]
