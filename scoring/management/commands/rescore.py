from django.core.management.base import BaseCommand
from django.db.models import Max, Min

from contacts.models import Contact
from crm.progress import Progress


class Command(BaseCommand):
    help = "Rescore every contact now, in this process, with a progress bar (or --queue it to the workers)."

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="Split into chunks for the Celery workers instead.")
        parser.add_argument("--chunk", type=int, default=5000)

    def handle(self, *args, queue, chunk, **options):
        from scoring.rescoring import rescore_range, rescore_start
        from scoring.selectors import active_rulesets

        if queue:
            run = rescore_start(reason="manage.py rescore", chunk_size=chunk)
            self.stdout.write(f"Queued rescore run #{run.pk} in {run.total_chunks} chunks.")
            return
        bounds = Contact.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
        if bounds["lo"] is None:
            self.stdout.write("No contacts.")
            return
        progress = Progress(Contact.objects.count(), "Rescoring", stream=self.stdout)
        rulesets = active_rulesets()
        scored = moved = 0
        for lo in range(bounds["lo"], bounds["hi"] + 1, chunk):
            outcome = rescore_range(first_id=lo, last_id=lo + chunk - 1, rulesets=rulesets)
            scored += outcome.scored
            moved += outcome.stage_changes
            progress.advance(Contact.objects.filter(pk__gte=lo, pk__lt=lo + chunk).count(), moved=moved)
        progress.finish(f"{scored} scored, {moved} stage changes.")
