"""What followup does when contacts change (contacts.events) or a user is deactivated. Each
receiver runs inside the sender's transaction and handles a whole batch in a few queries."""

from __future__ import annotations

from django.utils import timezone

from contacts.models import Stage


def on_stage_changes(changes) -> None:
    """New prospects get a follow-up task for their owner; an owner who already had the contact
    is told (round-robin's new owners are told by on_assigned, which comes next)."""
    from contacts.models import Contact
    from followup.services import assignments_notify, follow_ups_ensure

    prospects = {c.contact_id: c.changed_at for c in changes if c.to_stage == Stage.PROSPECT}
    if not prospects:
        return
    now = max(prospects.values())
    follow_ups_ensure(prospects, now=now)
    # The owner is told, unless they set the stage themselves.
    by_hand = {c.contact_id: c.user_id for c in changes if c.to_stage == Stage.PROSPECT and c.user_id}
    owned = [(pk, owner) for pk, owner in Contact.objects.filter(pk__in=list(prospects), owner__isnull=False)
             .values_list("pk", "owner_id") if by_hand.get(pk) != owner]
    assignments_notify(owned, now=timezone.now())


def on_assigned(assignments, by=None) -> None:
    """Open tasks follow their contact to its new owner; a prospect without one gets one; the
    new owner of a prospect is told."""
    from followup.services import assignments_notify, follow_ups_ensure, tasks_follow_owner

    tasks_follow_owner(assignments)
    follow_ups_ensure([pk for pk, owner in assignments if owner is not None])
    assignments_notify(assignments, by=by)


def on_user_saved(instance, **kwargs) -> None:
    """A deactivated user's work goes back to round-robin (Django admin and any other save)."""
    if instance.is_active or kwargs.get("raw"):
        return
    from followup.services import rep_release

    rep_release(user=instance)
