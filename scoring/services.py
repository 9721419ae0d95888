"""Scoring's writes outside scoring proper: new prospects get an owner and a follow-up.
(Rescoring lives in scoring.rescoring, rule sets in scoring.rulesets.)"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact, Note
from crm.models import SalesRepProfile
from crm.roles import SALES

log = logging.getLogger(__name__)



# --- New prospects: an owner and a follow-up ------------------------------------

def prospects_assign(*, contact_ids: Iterable[int], now: datetime | None = None) -> None:
    """New prospects get an owner (round-robin over active sales reps, preferring reps
    tagged for their industry) and a follow-up due within the follow-up time. A handful of
    queries for any number of prospects: a rescore can make thousands at once."""
    now = now or timezone.now()
    contacts = list(Contact.objects.filter(pk__in=list(contact_ids)).order_by("pk").values_list("pk", "owner_id", "industry"))
    if not contacts:
        return
    roster = _RepRoster.load(now)
    hours = settings.CRM_FOLLOW_UP_HOURS
    assigned: dict[Any, list[int]] = {}
    notes = []
    for contact_id, owner_id, industry in contacts:
        if owner_id is None and (rep := roster.next_for(industry)) is not None:
            assigned.setdefault(rep, []).append(contact_id)
            notes.append(Note(contact_id=contact_id, kind=Note.Kind.SYSTEM, body=_(
                "Became a prospect; assigned to %(rep)s by round-robin.") % {"rep": rep.get_full_name() or rep.username}))
        notes.append(Note(contact_id=contact_id, kind=Note.Kind.FOLLOW_UP, due_at=now + timedelta(hours=hours),
                          body=_("New prospect: follow up personally within %(hours)d hours.") % {"hours": hours}))
    with transaction.atomic():
        for rep, ids in assigned.items():
            Contact.objects.filter(pk__in=ids, owner__isnull=True).update(owner=rep)
        Note.objects.bulk_create(notes)
        roster.save()


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
        for rep_id in set(self.picks):
            SalesRepProfile.objects.update_or_create(user_id=rep_id, defaults={"last_assigned_at": self.turn[rep_id]})

