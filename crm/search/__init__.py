"""The global search (top-bar box, /search/?q=): contacts the user may see, and the shared
content library's messages and saved segments by name. The page is views.py."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from contacts.models import Contact, Segment
from contacts.selectors import contacts_visible_to, search_q
from nurture.models import Message

MIN_LENGTH = 2  # one character matches nearly everyone and no trigram index can help
OTHER_LIMIT = 10
# What the results table shows (and Contact.display_name needs): not the score breakdown or attributes.
SHOWN = ("full_name", "email", "phone", "external_ref", "company", "stage", "updated_at")


@dataclass(frozen=True)
class SearchResults:
    query: str
    contacts: QuerySet[Contact]
    messages: list
    segments: list[Segment]


def search_contacts(user, query: str) -> QuerySet[Contact]:
    """The same access rule as the contact list (contacts_visible_to), newest change first: a term
    matching many contacts walks the `contact_updated` index and stops at the page, a rare one is
    found through its indexes and only its matches are sorted (contacts.selectors.search_q)."""
    query = (query or "").strip()
    if len(query) < MIN_LENGTH:
        return Contact.objects.none()
    return contacts_visible_to(user).filter(search_q(query)).only(*SHOWN).order_by("-updated_at", "-id")


def global_search(user, query: str) -> SearchResults:
    query = (query or "").strip()[:100]
    if len(query) < MIN_LENGTH:
        return SearchResults(query, Contact.objects.none(), [], [])
    messages = list(Message.objects.filter(is_archived=False, name__icontains=query).order_by("name", "id")[:OTHER_LIMIT])
    segments = list(Segment.objects.filter(name__icontains=query).order_by("name", "id")[:OTHER_LIMIT])
    return SearchResults(query, search_contacts(user, query), messages, segments)
