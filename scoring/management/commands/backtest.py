from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _


class Command(BaseCommand):
    help = "Backtest a rule-set version (optionally beside another) on contacts with known outcomes, in this process."

    def add_arguments(self, parser):
        parser.add_argument("version", type=int, help="RuleSetVersion id.")
        parser.add_argument("--compare-to", type=int, default=None, help="Another version id, scored on the same contacts.")
        parser.add_argument("--outcome", default="conversion", help="An interaction kind, or 'conversion'.")
        parser.add_argument("--start")
        parser.add_argument("--end")

    def handle(self, *args, version, compare_to, outcome, start, end, **options):
        from scoring.advisor.backtest import backtest_params, backtest_run, report_lines
        from scoring.models import Backtest, RuleSetVersion

        target = RuleSetVersion.objects.filter(pk=version).first()
        if target is None:
            raise CommandError(_("No version %(id)d.") % {"id": version})
        try:
            params = backtest_params({"outcome": outcome, "start": start, "end": end, "compare_to": compare_to})
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        # Run here rather than queueing, like `rescore` does without --queue.
        run = backtest_run(backtest_id=Backtest.objects.create(version=target, kind="backtest", params=params).pk)
        if run.status != Backtest.Status.DONE:
            raise CommandError(run.text)
        for line in report_lines(run.results):
            self.stdout.write(line)
