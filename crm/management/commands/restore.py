from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm import backup


class Command(BaseCommand):
    help = ("Replace the database's content with a backup made by `backup`. Stop web, worker and beat first; "
            "run `migrate` afterwards when the backup comes from an older version.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="A file written by `manage.py backup`.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, file, yes, **options):
        database = settings.DATABASES["default"]
        if not yes and input(f"Replace everything in {database['NAME']} with {file}? [y/N] ").strip().lower() != "y":
            raise CommandError("Nothing restored.")
        try:
            backup.restore(database, Path(file))
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Restored {file} into {database['NAME']}. Run `manage.py migrate` if it comes from an "
                          "older version, then start the app.")
