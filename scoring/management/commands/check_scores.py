from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Prove the ledger: every stored score equals the rounded sum of its breakdown. Exits 1 on a mismatch."

    def handle(self, *args, **options):
        from scoring.rescoring import scores_reconcile

        report = scores_reconcile()
        if report["mismatched"]:
            raise CommandError(f"{len(report['mismatched'])} of {report['checked']} scores do not reconcile: {report['mismatched'][:20]}")
        self.stdout.write(f"All {report['checked']} scored contacts reconcile with their breakdown.")
