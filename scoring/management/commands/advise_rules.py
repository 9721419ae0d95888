from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from contacts.models import Industry
from crm.texts import value_render


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = (
        "Learn suggested rules from contacts with known outcomes (70 % of them, seeded), print the evidence, "
        "write the rules into the industry's draft and backtest it on the other 30 %."
    )

    def add_arguments(self, parser):
        parser.add_argument("--outcome", required=True, help="An interaction kind, or 'conversion' for any conversion-level kind.")
        parser.add_argument("--industry", required=True, choices=[*Industry.values, "default"])
        parser.add_argument("--capacity-share", type=float, default=None,
                            help="Share of new contacts the sales team can follow up as prospects (default: at most 0.25).")
        parser.add_argument("--capacity-per-week", type=int, default=None,
                            help="Prospects the sales team can follow up a week (instead of --capacity-share).")
        parser.add_argument("--min-lift", type=float, default=2.0, help="Prospects convert at least this many times the base rate.")
        parser.add_argument("--target-precision", type=float, default=None, help="Optional: prospects also convert at least this often.")
        parser.add_argument("--lead-recall", type=float, default=0.9, help="Share of the conversions leads and prospects hold.")
        parser.add_argument("--min-support", type=int, default=30, help="Contacts a rule needs on the learning split.")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--bins", type=int, default=5, help="Quantile steps per numeric column.")
        parser.add_argument("--exclude", action="append", default=[], help="A column never to use (repeatable), e.g. duration.")
        parser.add_argument("--start", help="Only conversions from this date.")
        parser.add_argument("--end", help="Judge the others as of this date (default: now).")

    def handle(self, *args, **opts):
        from scoring.advisor import advisor_run, advisor_start
        from scoring.advisor.backtest import report_lines
        from scoring.models import Backtest, RuleSet

        industry = "" if opts["industry"] == "default" else opts["industry"]
        name = _("Default") if not industry else Industry(industry).label
        ruleset, _created = RuleSet.objects.get_or_create(industry=industry, defaults={"name": name})
        params = {
            "outcome": opts["outcome"], "capacity_share": opts["capacity_share"], "capacity_per_week": opts["capacity_per_week"],
            "min_lift": opts["min_lift"], "target_precision": opts["target_precision"], "lead_recall": opts["lead_recall"],
            "min_support": opts["min_support"], "seed": opts["seed"], "bins": opts["bins"], "exclude": opts["exclude"],
            "start": opts["start"], "end": opts["end"],
        }
        try:
            run = advisor_start(ruleset, None, params, queue=False)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        run = advisor_run(backtest_id=run.pk)
        if run.status != Backtest.Status.DONE:
            raise CommandError(run.text or _("The advisor did not finish."))
        self._print(run.results, run.version)
        for line in report_lines(run.results["backtest"]):
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(
            _("Wrote %(rules)d rules into %(version)s (advisor run #%(run)d). Review and publish it on the rules page.")
            % {"rules": run.results["rules"], "version": run.version, "run": run.pk}
        ))

    def _print(self, results, version) -> None:
        split = results["split"]
        self.stdout.write(_("Learning from %(train)d contacts (%(conv)d converted), holding out %(test)d (seed %(seed)d).") % {
            "train": split["train"], "conv": split["train_conversions"], "test": split["test"], "seed": split["seed"],
        })
        rows = results["evidence"]
        width = min(60, max([len(_("feature"))] + [len(r["feature"]) for r in rows]))
        header = f"{_('feature'):<{width}} {'n':>7} {_('conv'):>6} {_('rate'):>7} {'95% CI':>15} {_('lift'):>5} {_('points'):>6}"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for r in rows:
            ci = f"{r['ci_low']:.1%}–{r['ci_high']:.1%}"
            self.stdout.write(
                f"{r['feature'][:width]:<{width}} {r['n']:>7} {r['conversions']:>6} {r['rate']:>7.1%} {ci:>15} "
                f"{r['lift']:>5.2f} {r['points']:>+6d}"
            )
        for item in results["excluded"]:
            self.stdout.write(self.style.WARNING(_("Left out %(column)s: %(reason)s") % {
                "column": item["column"], "reason": value_render(item["reason"])}))
        for note in results["notes"]:
            self.stdout.write(self.style.WARNING(str(value_render(note))))
        for stage in ("lead", "prospect"):
            t = results["thresholds"][stage]
            self.stdout.write(_("%(stage)s threshold %(threshold)s: %(share)s of contacts, converting at %(rate)s "
                                "(lift %(lift)s, recall %(recall)s) on the learning split [%(status)s]") % {
                "stage": stage, "threshold": t["threshold"], "share": _pct(t.get("share")), "rate": _pct(t.get("rate")),
                "lift": "–" if t.get("lift") is None else f"{t['lift']:.2f}", "recall": _pct(t.get("recall")),
                "status": t["status"],
            })
        if results.get("few_conversions"):
            self.stdout.write(self.style.WARNING(
                _("Only %(n)d conversions among the held-out contacts: the figures below are noise.") % {"n": split["test_conversions"]}
            ))
        self.stdout.write(_("Backtest on the %(test)d held-out contacts:") % {"test": split["test"]})
