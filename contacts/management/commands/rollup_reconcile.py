"""Recompute the stage rollup with GROUP BY (what the nightly beat job does) and say what drifted."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Recompute the stage rollup (dashboard and stage list counts) and report any drift."

    def handle(self, *args, **options):
        from contacts.rollup import rollup_reconcile

        result = rollup_reconcile()
        self.stdout.write(
            f"{result['count_keys']} count keys, {result['move_keys']} move keys; drift repaired: "
            f"{result['count_keys_off']} count keys (off by {result['count_off']}), "
            f"{result['move_keys_off']} move keys (off by {result['move_off']})"
        )
