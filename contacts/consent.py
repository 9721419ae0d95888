"""The consent service moved to contacts.services.consent; this alias keeps imports written
before the split working (branches merged later). New code imports contacts.services.consent."""

from contacts.services.consent import (  # noqa: F401
    ANONYMISED_KEY,
    CHANNEL_FLAGS,
    CONSENT_FLAGS,
    FLAG_CHANNELS,
    MESSAGING_CHANNELS,
    Channel,
    consent_flags_changes,
    consent_flags_set,
    consent_set,
    consent_values_after,
    consents_import,
    is_anonymised,
)
