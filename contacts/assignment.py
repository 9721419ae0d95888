"""Who owns a prospect: round-robin over active sales reps (issue #16: assignment belongs with
contacts). Every assignment announces itself with contacts.events.contacts_assigned inside its
transaction; the follow-up app moves or creates the follow-up task and tells the rep."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from contacts.events import contacts_assigned
from contacts.models import Contact, Note
from contacts.reasons import note_text
from crm.models import SalesRepProfile
from crm.roles import SALES


def prospects_assign(*, contact_ids: Iterable[int], now: datetime | None = None) -> dict[int, int]:
    """New prospects without an owner get one (round-robin over active sales reps, preferring
    reps tagged for their industry). A handful of queries for any number of prospects: a
    rescore can make thousands at once. Returns {contact id: new owner id}."""
    now = now or timezone.now()
    contacts = list(Contact.objects.filter(pk__in=list(contact_ids), owner__isnull=True)
                    .order_by("pk").values_list("pk", "industry"))
    return _round_robin(contacts, now=now, reason=gettext_noop("Became a prospect; assigned to %(rep)s by round-robin."))


def contacts_round_robin(*, contact_ids: Iterable[int], note: str, params: dict | None = None,
                         now: datetime | None = None) -> dict[int, int]:
    """Give contacts to the next reps in turn whatever their current owner (a deactivated rep's
    prospects); `note` % {"rep": the new rep's name, **params} is recorded on each contact."""
    now = now or timezone.now()
    contacts = list(Contact.objects.filter(pk__in=list(contact_ids)).order_by("pk").values_list("pk", "industry"))
    return _round_robin(contacts, now=now, reason=note, params=params or {}, only_unowned=False)


def _round_robin(contacts: list[tuple[int, str]], *, now: datetime, reason: str, params: dict | None = None,
                 only_unowned: bool = True) -> dict[int, int]:
    if not contacts:
        return {}
    roster = _RepRoster.load(now)
    assigned: dict[Any, list[int]] = {}
    notes = []
    for contact_id, industry in contacts:
        if (rep := roster.next_for(industry)) is not None:
            assigned.setdefault(rep, []).append(contact_id)
            values = {**(params or {}), "rep": rep.get_full_name() or rep.username}
            notes.append(Note(contact_id=contact_id, kind=Note.Kind.SYSTEM, body=note_text(reason, values),
                              message=reason, params=values))
    done: dict[int, int] = {}
    with transaction.atomic():
        for rep, ids in assigned.items():
            rows = Contact.objects.filter(pk__in=ids)
            if only_unowned:
                rows = rows.filter(owner__isnull=True)
            # Only the rows actually changed are announced (another assigner may have been first).
            changed = list(rows.select_for_update().values_list("pk", flat=True))
            Contact.objects.filter(pk__in=changed).update(owner=rep, updated_at=now)
            done.update({pk: rep.pk for pk in changed})
        Note.objects.bulk_create([n for n in notes if n.contact_id in done])
        roster.save()
        if done:
            contacts_assigned.send(sender=Contact, assignments=sorted(done.items()), by=None)
    return done


class _RepRoster:
    """Who gets the next prospect: the rep assigned longest ago, in memory for a batch."""

    def __init__(self, reps: list, profiles: dict, now: datetime) -> None:
        epoch = timezone.make_aware(datetime(1970, 1, 1))
        self.reps, self.now = reps, now
        self.industries = {u.pk: profiles[u.pk].industries if u.pk in profiles else [] for u in reps}
        self.turn = {u.pk: (profiles[u.pk].last_assigned_at or epoch) if u.pk in profiles else epoch for u in reps}
        self.picks: list[int] = []  # rep ids, one per prospect of this batch

    @classmethod
    def load(cls, now: datetime) -> _RepRoster:
        reps = list(get_user_model().objects.filter(is_active=True, groups__name=SALES)
                    .exclude(rep_profile__accepts_new_prospects=False).distinct())
        return cls(reps, {p.user_id: p for p in SalesRepProfile.objects.filter(user__in=reps)}, now)

    def next_for(self, industry: str):
        tagged = self.industries
        pool = [u for u in self.reps if industry in tagged[u.pk]] or [u for u in self.reps if not tagged[u.pk]] or self.reps
        if not pool:
            return None
        rep = min(pool, key=lambda u: (self.turn[u.pk], u.pk))
        # Later picks of one batch count as later turns, so the rotation goes on across batches.
        self.turn[rep.pk] = self.now + timedelta(microseconds=len(self.picks))
        self.picks.append(rep.pk)
        return rep

    def save(self) -> None:
        for rep_id in sorted(set(self.picks)):  # one order: concurrent batches never deadlock
            SalesRepProfile.objects.update_or_create(user_id=rep_id, defaults={"last_assigned_at": self.turn[rep_id]})
