from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scoring.playbooks import PLAYBOOKS


class Command(BaseCommand):
    help = "Load a built-in industry playbook (kinds, rules, stage policy) and publish it."

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(PLAYBOOKS) + ["all"])
        parser.add_argument("--draft", action="store_true", help="Leave it as a draft to preview before publishing.")

    def handle(self, *args, name, draft, **options):
        from scoring.rulesets import playbook_load

        for playbook in sorted(PLAYBOOKS) if name == "all" else [name]:
            try:
                version = playbook_load(name=playbook, publish=not draft)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            state = "draft" if draft else "published; a full rescore is queued"
            self.stdout.write(f"{version.ruleset.name}: v{version.number} with {version.rules.count()} rules ({state}).")
