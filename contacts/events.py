"""Stage changes, announced to whoever builds on contacts (sequences now; notifications and webhooks
next) in the transaction that records them: a receiver's rows commit, or roll back, with the move.

Sent by the two writers of StageChange rows: the scorer (scoring.services, in bulk) and a person
setting the stage (contacts.services.contact_set_stage). Receivers get the saved rows and must
handle thousands at once in a few queries: a full rescore can move many contacts."""

from collections.abc import Sequence

from django.dispatch import Signal

from contacts.models import StageChange

stage_changed = Signal()  # keyword argument: changes (a list of saved StageChange rows)


def stage_changes_recorded(changes: Sequence[StageChange]) -> None:
    if changes:
        stage_changed.send(sender=StageChange, changes=list(changes))
