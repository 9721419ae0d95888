"""The built-in interaction-kind catalog. Admins add their own kinds beside these."""

# slug, English name, Indonesian name, intent level
KINDS: tuple[tuple[str, str, str, str], ...] = (
    ("page_viewed", "Page viewed", "Melihat halaman", "awareness"),
    ("email_opened", "Email opened", "Membuka email", "awareness"),
    ("unsubscribed", "Unsubscribed", "Berhenti berlangganan", "awareness"),
    ("email_bounced", "Email bounced", "Email gagal terkirim", "awareness"),
    ("email_clicked", "Email link clicked", "Mengklik tautan email", "interest"),
    ("ad_clicked", "Ad clicked", "Mengklik iklan", "interest"),
    ("social_followed", "Followed a social account", "Mengikuti akun media sosial", "interest"),
    ("social_engaged", "Engaged on social media", "Berinteraksi di media sosial", "interest"),
    ("form_submitted", "Landing-page form submitted", "Mengisi formulir landing page", "interest"),
    ("newsletter_subscribed", "Newsletter subscribed", "Berlangganan buletin", "interest"),
    ("whatsapp_message", "WhatsApp message", "Pesan WhatsApp", "interest"),
    ("product_viewed", "Product viewed", "Melihat produk", "interest"),
    ("content_downloaded", "Content downloaded", "Mengunduh konten", "interest"),
    ("whitepaper_downloaded", "Whitepaper downloaded", "Mengunduh whitepaper", "interest"),
    ("webinar_registered", "Webinar registered", "Mendaftar webinar", "interest"),
    ("webinar_attended", "Webinar attended", "Menghadiri webinar", "interest"),
    ("seminar_registered", "Seminar registered", "Mendaftar seminar", "interest"),
    ("brochure_requested", "Brochure requested", "Meminta brosur", "interest"),
    ("cart_added", "Added to cart", "Menambahkan ke keranjang", "intent"),
    ("checkout_started", "Checkout started", "Memulai checkout", "intent"),
    ("price_requested", "Price requested", "Menanyakan harga", "intent"),
    ("competitor_compared", "Compared with competitors", "Membandingkan dengan kompetitor", "intent"),
    ("demo_requested", "Demo requested", "Meminta demo", "intent"),
    ("consultation_requested", "Consultation requested", "Meminta konsultasi", "intent"),
    ("quote_requested", "Quote requested", "Meminta penawaran", "intent"),
    ("checkup_form_submitted", "Check-up (MCU) form submitted", "Mengisi formulir MCU", "intent"),
    ("curriculum_consultation", "Curriculum consultation", "Konsultasi kurikulum", "intent"),
    ("campus_visit", "Campus visit booked", "Menjadwalkan kunjungan kampus", "intent"),
    ("purchase", "Purchase", "Pembelian", "conversion"),
    ("contract_signed", "Contract signed", "Kontrak ditandatangani", "conversion"),
    ("appointment_booked", "Appointment booked", "Membuat janji temu", "conversion"),
    ("screening_result_downloaded", "Screening result downloaded", "Mengunduh hasil skrining", "conversion"),
    ("enrolled", "Enrolled", "Terdaftar sebagai siswa", "conversion"),
    # What a rep did (a completed task or the WhatsApp click logs them); no playbook scores them.
    ("call_made", "Call made", "Menelepon", "interest"),
    ("meeting_held", "Meeting held", "Pertemuan diadakan", "interest"),
    ("whatsapp_sent", "WhatsApp sent", "WhatsApp dikirim", "interest"),
)


def catalog_ensure() -> int:
    """Create the built-in kinds that are missing; never touch kinds an admin edited."""
    from contacts.models import InteractionKind

    existing = set(InteractionKind.objects.values_list("slug", flat=True))
    missing = [
        InteractionKind(slug=slug, name=name, name_id=name_id, intent_level=level)
        for slug, name, name_id, level in KINDS
        if slug not in existing
    ]
    InteractionKind.objects.bulk_create(missing)
    return len(missing)


# Kinds a rep logs for anyone (a call, a meeting, a WhatsApp), listed first on every contact
# whatever the industry scores. A slug not in the catalog (yet) is simply not listed.
EVERY_INDUSTRY: frozenset[str] = frozenset({"whatsapp_sent", "call_made", "meeting_held"})


def kind_choices(kinds, first: set[str], *, other_label: str) -> list:
    """Choices for a kind <select>: the kinds in `first` (or EVERY_INDUSTRY), then the rest
    in an optgroup named `other_label`; each group in label order. `kinds` are
    InteractionKind rows. Without any first kind, one flat list."""
    def by_label(group):
        return sorted(group, key=lambda kind: kind.label.lower())

    kinds = list(kinds)
    mine = by_label(k for k in kinds if k.slug in first or k.slug in EVERY_INDUSTRY)
    rest = by_label(k for k in kinds if k.slug not in first and k.slug not in EVERY_INDUSTRY)
    if not mine:
        return [(k.slug, k.label) for k in rest]
    choices: list = [(k.slug, k.label) for k in mine]
    if rest:
        choices.append((other_label, [(k.slug, k.label) for k in rest]))
    return choices
