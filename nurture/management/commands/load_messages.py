from django.core.management.base import BaseCommand

from nurture.services import starter_library_load


class Command(BaseCommand):
    help = "Load the starter content library (every industry, both languages); messages already loaded are left as they are."

    def handle(self, *args, **options):
        added = starter_library_load()
        self.stdout.write(f"{added} starter messages added.")
