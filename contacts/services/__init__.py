"""Every write to contacts goes through here: pages, API, imports, commands and tasks.

Each service takes keyword arguments, validates, runs in one transaction, writes its
own audit row (crm.audit: ids and field names, never personal data), and, when a score
can change, marks the contact stale and queues scoring after commit. So a change made from
a page, the API, a command or a task leaves the same trace. Consent flags are written only
by contacts.services.consent, which records the evidence (who, when, how, wording or import job).

One module a section; each imports only those before it in this list (no cycles):
normalise (fields checked and normalised), rescore (mark and wake the scorer), notes,
consent (the only writer of consent flags, with evidence), tags, owners, stage (by hand,
pinned), contact (find, create, upsert, update), interactions. The public names are
re-exported here: `from contacts.services import contact_upsert`.
"""

from contacts.services.contact import (
    ContactExists,
    UpsertResult,
    contact_create,
    contact_find,
    contact_new,
    contact_update,
    contact_upsert,
)
from contacts.services.interactions import (
    CAPTURE_KEY_PREFIXES,
    Event,
    LoggedInteraction,
    ReplayHidden,
    events_log,
    interaction_kind_create,
    interaction_log,
    interactions_log_many,
    is_capture_key_space,
)
from contacts.services.normalise import (
    BOOLEAN_FIELDS,
    CONSENT_FIELDS,
    CONTACT_FIELDS,
    SCORED_FIELDS,
    clean_contact_data,
    has_nul,
    normalize_email,
    normalize_phone,
    phone_is_mobile,
    phone_parse,
    phone_problem,
)
from contacts.services.notes import contact_mark_contacted, note_add, note_complete
from contacts.services.owners import contact_assign_owner, contacts_assign_owner
from contacts.services.rescore import queue_rescore
from contacts.services.stage import contact_set_stage, contact_unpin, contacts_set_stage
from contacts.services.tags import contacts_add_tag, contacts_remove_tag, tag_get_or_create, tags_add

__all__ = [
    "BOOLEAN_FIELDS", "CAPTURE_KEY_PREFIXES", "CONSENT_FIELDS", "CONTACT_FIELDS", "SCORED_FIELDS",
    "ContactExists", "Event", "LoggedInteraction", "ReplayHidden", "UpsertResult",
    "clean_contact_data", "contact_assign_owner", "contact_create", "contact_find", "contact_mark_contacted",
    "contact_new", "contact_set_stage", "contact_unpin", "contact_update", "contact_upsert",
    "contacts_add_tag", "contacts_assign_owner", "contacts_remove_tag", "contacts_set_stage", "events_log", "has_nul", "interaction_kind_create", "interaction_log",
    "interactions_log_many", "is_capture_key_space", "normalize_email", "normalize_phone", "note_add",
    "note_complete", "phone_is_mobile", "phone_parse", "phone_problem", "queue_rescore", "tag_get_or_create",
    "tags_add",
]
