"""Demo data across the four industries, scored by the playbooks; or, with --from, a real public
data set (data/) imported through the importer, as a marketer's upload would be."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from contacts.catalog import catalog_ensure
from contacts.demo import DemoGenerator
from contacts.models import Contact, Interaction, StageChange
from crm.models import SalesRepProfile
from crm.progress import Progress
from scoring.models import RuleSet
from scoring.rescoring import rescore_all_now
from scoring.rulesets import playbook_load

DEMO_USERS = (
    # username, full name, groups, staff, rep industries
    ("admin", "Ayu Admin", ["admin"], True, None),
    ("marketer", "Maya Marketing", ["marketer"], False, None),
    ("sales", "Sari Sales", ["sales"], False, []),
    ("sales2", "Budi Sales", ["sales"], False, ["b2b", "education"]),
    ("manager", "Hendra Manager", ["sales", "sales_manager"], False, []),
)
# The public data sets shipped in data/ (CC BY 4.0, see data/README.md), by short name.
DATA_SETS = {"bank": "uci_bank_full.csv", "shoppers": "uci_online_shoppers_intention.csv"}


class Command(BaseCommand):
    help = "Create realistic demo contacts and interactions (bulk inserts), load the playbooks and score everyone."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--with-users", action="store_true", help="Create demo users and print their passwords.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if there are contacts already.")
        parser.add_argument("--batch", type=int, default=2000)
        parser.add_argument("--from", dest="data_set", metavar="DATA",
                            help=f"import a real data set instead of generating one: {', '.join(DATA_SETS)} or a file path")

    def handle(self, *args, contacts, seed, with_users, if_empty, batch, data_set=None, **options):

        catalog_ensure()
        if with_users:
            self._users()
        if if_empty and Contact.objects.exists():
            self.stdout.write("Contacts exist already; not seeding (drop --if-empty to add more).")
            return
        if not RuleSet.objects.filter(active_version__isnull=False).exists():
            for name in ("general", "ecommerce", "b2b", "healthcare", "education"):
                playbook_load(name=name, publish=True)
            # Loading publishes and queues rescores of an empty table; the real scoring is below.
        call_command("load_messages", stdout=self.stdout)  # the starter content library
        if data_set:
            self._import(data_set)
            return
        reps = list(get_user_model().objects.filter(groups__name="sales", is_active=True))
        generator = DemoGenerator(seed=seed, now=timezone.now())
        progress = Progress(contacts, "Seeding contacts", stream=self.stdout)
        offset = Contact.objects.count()
        made = 0
        while made < contacts:
            n = min(batch, contacts - made)
            self._insert(list(generator.contacts(n, start=offset + made)), reps, generator)
            made += n
            progress.advance(n)
        progress.finish(f"{Interaction.objects.count()} interactions in total.")
        self.stdout.write("Scoring everyone with the published playbooks…")
        outcome = rescore_all_now()
        _date_history_like_the_journeys()
        self.stdout.write(f"Scored {outcome.scored} contacts, {outcome.stage_changes} stage changes.")
        for stage, n in sorted(_stage_counts().items()):
            self.stdout.write(f"  {stage:9} {n}")

    @transaction.atomic
    def _insert(self, demo_contacts, reps, generator):
        rng = generator.rng
        rows = []
        for dc in demo_contacts:
            fields = dict(dc.fields)
            last = dc.interactions[-1][1] if dc.interactions else None
            created = dc.interactions[0][1] if dc.interactions else timezone.now() - timezone.timedelta(days=rng.uniform(0, 180))
            owner = rng.choice(reps) if reps and rng.random() < 0.15 else None
            rows.append(Contact(**fields, owner=owner, last_interaction_at=last, created_at=created))
        # ignore_conflicts would hide ids on SQLite; demo identities are unique by construction.
        created_rows = Contact.objects.bulk_create(rows, batch_size=1000)
        interactions = [
            Interaction(contact_id=c.pk, kind_id=kind, occurred_at=at, channel=channel, data=data, source="demo", created_at=at)
            for c, dc in zip(created_rows, demo_contacts, strict=True)
            for kind, at, channel, data in dc.interactions
        ]
        Interaction.objects.bulk_create(interactions, batch_size=5000)

    def _import(self, data_set: str) -> None:
        """The importer with its progress bar and the shipped mapping its header selects; it scores too."""
        path = Path(settings.BASE_DIR) / "data" / DATA_SETS[data_set] if data_set in DATA_SETS else Path(data_set)
        if not path.is_file():
            raise CommandError(f"No data set {data_set!r}: use {' or '.join(DATA_SETS)}, or a CSV/XLSX file path.")
        call_command("import_contacts", str(path), stdout=self.stdout, stderr=self.stderr)
        for stage, n in sorted(_stage_counts().items()):
            self.stdout.write(f"  {stage:9} {n}")

    def _users(self):
        User = get_user_model()
        self.stdout.write("Demo users (passwords are new each time --with-users runs):")
        for username, full_name, groups, staff, industries in DEMO_USERS:
            first, last = full_name.split(" ", 1)
            user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
            password = f"{username}-{secrets.token_urlsafe(6)}"
            user.set_password(password)
            user.is_staff = staff
            user.is_superuser = username == "admin"
            user.email = f"{username}@saring.example"
            user.save()
            user.groups.set(Group.objects.filter(name__in=groups))
            if industries is not None:
                SalesRepProfile.objects.update_or_create(user=user, defaults={"industries": industries})
            self.stdout.write(f"  {username:10} {password:24} ({', '.join(groups)})")


def _date_history_like_the_journeys() -> None:
    """Demo journeys lie in the past but are scored now: date each stage change at the
    contact's last interaction, so dashboards show real times-to-stage and weekly trends."""
    from django.db.models import F, OuterRef, Subquery


    last = Contact.objects.filter(pk=OuterRef("contact_id")).values("last_interaction_at")[:1]
    StageChange.objects.filter(contact__last_interaction_at__isnull=False, reason_code__in=["lead", "prospect", "conversion"]).update(
        changed_at=Subquery(last)
    )
    Contact.objects.filter(stage_changed_at__isnull=False, last_interaction_at__isnull=False).update(stage_changed_at=F("last_interaction_at"))


def _stage_counts() -> dict[str, int]:
    from django.db.models import Count

    return {row["stage"]: row["n"] for row in Contact.objects.values("stage").annotate(n=Count("id")).order_by()}
