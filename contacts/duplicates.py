"""Before a contact is created by hand: who might this person already be?

Three signals, the same as the merge finder's (contacts.merge): the same mailbox (email after
dropping "+tags", and for Gmail the dots), the same phone (E.164), or a very similar name at
the same company. Each lookup is one indexed query, so the check stays cheap on a large table
(the new-contact page runs it when a field loses focus and again on submit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.merge import NAME_SIMILARITY, company_key, email_key, name_key, name_similarity
from contacts.models import Contact
from contacts.search_text import matching
from contacts.services import normalize_email, normalize_phone

REASONS = {
    "email": _("Same email address"),
    "email_variant": _("Same mailbox (email written differently)"),
    "phone": _("Same phone number"),
    "name": _("Very similar name at the same company"),
    "recent": _("You added a contact with this name a moment ago"),
}
RECENT = timedelta(minutes=10)  # a resubmitted form (a double click, the back button) within this window
LIMIT = 5
COMPANY_CANDIDATES = 200  # rows read per company (or mailbox key) before names are compared in Python


@dataclass(frozen=True)
class Match:
    contact: Contact
    reason: str

    @property
    def reason_label(self) -> str:
        return str(REASONS[self.reason])


def _quiet(normalise, value):
    try:
        return normalise(value)
    except ValidationError:
        return None  # the form reports a bad value; the check just cannot use it


def mailbox_regex(email: str) -> str:
    """A case-insensitive pattern (written upper-case, like the indexed UPPER(email)) for every
    address of the mailbox of `email`: any "+tag", and for Gmail any dots and googlemail.com."""
    local, _at, domain = email_key(email).partition("@")
    if domain == "gmail.com":
        body = r"\.?".join(re.escape(ch) for ch in local.upper())
        return rf"^{body}(\+[^@]*)?@(GMAIL|GOOGLEMAIL)\.COM$"
    return rf"^{re.escape(local.upper())}(\+[^@]*)?@{re.escape(domain.upper())}$"


# The mailbox key of a stored email in SQL: local part without "+tag" and without dots (all
# dots: a superset of the Gmail rule, narrowed by email_key in Python). Indexed on PostgreSQL
# by migration 0014 (contact_mailbox_key): keep the two expressions identical.
MAILBOX_SQL = "REPLACE(SPLIT_PART(SPLIT_PART({email}, '@', 1), '+', 1), '.', '')"


def _same_mailbox(base, email: str) -> list[Contact]:
    """Contacts whose email is another spelling of this mailbox (the exact address included)."""
    key = email_key(email)
    local, _at, domain = key.partition("@")
    if not local or not domain:
        return []
    if connection.vendor == "postgresql":
        # One index lookup on the mailbox key, then the exact rule per candidate.
        candidates = base.annotate(mailbox=RawSQL(MAILBOX_SQL.format(email='"contacts_contact"."email"'), [])).filter(mailbox=local.replace(".", ""))
        return [c for c in candidates[:COMPANY_CANDIDATES] if email_key(c.email) == key]
    # SQLite (the embedded default, small tables): a regular expression over the column.
    return list(base.annotate(email_upper=Upper("email")).filter(email_upper__regex=mailbox_regex(email)))


def possible_duplicates(*, email: str = "", phone: str = "", full_name: str = "", company: str = "",
                        created_by=None, limit: int = LIMIT) -> list[Match]:
    """Existing contacts that may be this person, strongest signal first, each contact once.
    With `created_by`, also a contact of the same name that user created in the last minutes
    (a form submitted twice, when the name is all it has)."""
    found: dict[int, Match] = {}

    def add(contacts, reason: str) -> None:
        for contact in contacts:
            found.setdefault(contact.pk, Match(contact, reason))

    base = Contact.objects.select_related("owner").order_by("id")
    email = _quiet(normalize_email, email)
    if email:
        add(base.filter(email=email), "email")
        add(_same_mailbox(base, email)[:limit], "email_variant")
    phone = _quiet(normalize_phone, phone)
    if phone:
        add(base.filter(phone=phone), "phone")
    ckey = company_key(company)
    if ckey and (full_name or "").strip():
        # Every word of the company (legal forms dropped): the search text's trigram index ANDs them
        # together, and the company column decides.
        words = tuple(ckey.split())
        in_company = matching(words)
        for word in words:
            in_company &= Q(company__icontains=word)
        candidates = base.filter(in_company).exclude(full_name="")[:COMPANY_CANDIDATES]
        add((c for c in candidates if company_key(c.company) == ckey
             and name_similarity(c.full_name, full_name) >= NAME_SIMILARITY), "name")
    if created_by is not None and name_key(full_name or ""):
        add(_recent_same_name(base, full_name, created_by), "recent")
    return list(found.values())[:limit]


def _recent_same_name(base, full_name: str, user) -> list[Contact]:
    from crm.models import AuditEvent

    ids = (AuditEvent.objects.filter(actor=user, action=AuditEvent.Action.CREATE, object_type=Contact._meta.label_lower,
                                     at__gte=timezone.now() - RECENT).values_list("object_id", flat=True)[:50])
    key = name_key(full_name)
    return [c for c in base.filter(pk__in=[int(i) for i in ids if i.isdigit()]) if name_key(c.full_name) == key]
