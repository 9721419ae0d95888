"""What happens to contacts, announced to whoever builds on them (sequences, tasks and
notifications, webhooks) inside the transaction that records it: a receiver's rows (an outbox
row, a notification, an enrollment) commit, or roll back, with the change.

Each signal is sent by the one service that owns the change. Receivers get plain lists and
must handle thousands at once in a few queries: an import or a full rescore sends big batches.
contacts never imports its receivers; they connect in their own AppConfig.ready()."""

from collections.abc import Sequence

from django.dispatch import Signal

from contacts.models import StageChange

# changes: a list of saved StageChange rows. Sent by the scorer (in bulk) and by
# contacts.services.contact_set_stage.
stage_changed = Signal()

# contact_ids: ids of contacts just created (a page, the API, capture, an import).
contacts_created = Signal()

# assignments: a list of (contact_id, owner_id or None) pairs; by: the user who assigned, or
# None when the round-robin did.
contacts_assigned = Signal()

# interactions: a list of saved Interaction rows (new ones only, not de-duplicated replays).
interactions_logged = Signal()

# contact_id and external_ref of a contact about to be erased (right to erasure).
contact_erased = Signal()

# task: a follow-up task just completed; by: who completed it.
task_completed = Signal()


def stage_changes_recorded(changes: Sequence[StageChange]) -> None:
    if changes:
        stage_changed.send(sender=StageChange, changes=list(changes))
