from django.core.management.base import BaseCommand, CommandError

from contacts.models import Contact


class Command(BaseCommand):
    help = "Explain a contact's score and stage: each rule's points, the interactions that counted, the stage history."

    def add_arguments(self, parser):
        parser.add_argument("contact", help="A contact id or email address.")

    def handle(self, *args, contact, **options):
        query = {"pk": int(contact)} if contact.isdigit() else {"email": contact.strip().lower()}
        found = Contact.objects.filter(**query).first()
        if found is None:
            raise CommandError(f"No contact {contact!r}.")
        breakdown = found.score_breakdown or {}
        self.stdout.write(f"{found.display_name} (#{found.pk}) — stage {found.stage}{' (pinned)' if found.stage_pinned else ''}, score {found.score}")
        if breakdown:
            self.stdout.write(f"Rule set {breakdown.get('ruleset')} v{breakdown.get('version_number')}, computed {breakdown.get('computed_at')}")
        for hit in breakdown.get("hits", []):
            ids = ", ".join(map(str, hit["interactions"])) or "—"
            self.stdout.write(f"  {float(hit['points']):>+8.2f}  {hit['label']}  ×{hit['count']}  interactions: {ids}")
        self.stdout.write("Stage history:")
        for change in found.stage_changes.select_related("user"):
            self.stdout.write(f"  {change.changed_at:%Y-%m-%d %H:%M}  {change.from_stage} → {change.to_stage}: {change.reason_text}")
