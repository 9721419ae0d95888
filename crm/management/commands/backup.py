from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crm import backup


class Command(BaseCommand):
    help = "Back up the whole database (pg_dump on PostgreSQL, the SQLite backup API on the embedded default)."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="Where to write it (default: backups/saring-<time>.dump or .sqlite3).")

    def handle(self, *args, file, **options):
        database = settings.DATABASES["default"]
        try:
            path = Path(file) if file else backup.default_path(database, Path(settings.BASE_DIR) / "backups",
                                                               timezone.localtime())
            backup.backup(database, path)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backup written to {path} ({path.stat().st_size:,} bytes).")
