"""Anonymise contacts with no activity for N months; --dry-run only reports who."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from contacts.privacy import retention_months_setting, retention_run


class Command(BaseCommand):
    help = "Anonymise contacts with no activity for N months (UU PDP retention). Use --dry-run to see who first."

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=None,
                            help="Inactivity period; defaults to CRM_RETENTION_MONTHS.")
        parser.add_argument("--dry-run", action="store_true", help="Report the contacts that would be anonymised; change nothing.")

    def handle(self, *args, months, dry_run, **options):
        months = months or retention_months_setting()
        if not months:
            raise CommandError("Give --months N (CRM_RETENTION_MONTHS is not set).")
        try:
            report = retention_run(months=months, dry_run=dry_run)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"Retention: no activity for {report.months} months (since {report.cutoff:%Y-%m-%d %H:%M %Z}).")
        self.stdout.write(f"Contacts matching: {report.candidates}")
        for stage, count in sorted(report.by_stage.items()):
            self.stdout.write(f"  {stage}: {count}")
        if report.sample_ids:
            more = " …" if report.candidates > len(report.sample_ids) else ""
            self.stdout.write("Contact ids: " + ", ".join(map(str, report.sample_ids)) + more)
        if dry_run:
            self.stdout.write(self.style.WARNING("Dry run: nothing was changed."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Anonymised {report.anonymised} contacts."))
