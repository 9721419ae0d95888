"""makemessages that also extracts H(...), the gettext_lazy alias marking the REST API help texts."""

from django.core.management.commands.makemessages import Command as MakeMessagesCommand


class Command(MakeMessagesCommand):
    xgettext_options = MakeMessagesCommand.xgettext_options + ["--keyword=H"]
