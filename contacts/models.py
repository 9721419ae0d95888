"""People, what they did, what reps wrote about them, and how their stage moved.

Models hold data and invariants only: every write that matters goes through
contacts.services (or scoring.rescoring), never through save() side effects.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext_lazy as _

from contacts.reasons import reason_text
from crm.industries import Industry


class Stage(models.TextChoices):
    CONTACT = "contact", _("Contact")
    LEAD = "lead", _("Lead")
    PROSPECT = "prospect", _("Prospect")
    CUSTOMER = "customer", _("Customer")

    @classmethod
    def order(cls, stage: str) -> int:
        return cls.values.index(stage)


class IntentLevel(models.TextChoices):
    AWARENESS = "awareness", _("Awareness")
    INTEREST = "interest", _("Interest")
    INTENT = "intent", _("Buying intent")
    CONVERSION = "conversion", _("Conversion")


class Channel(models.TextChoices):
    WEB = "web", _("Website")
    EMAIL = "email", _("Email")
    WHATSAPP = "whatsapp", _("WhatsApp")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")
    SOCIAL = "social", _("Social media")
    ADS = "ads", _("Advertising")
    STORE = "store", _("Store")
    EVENT = "event", _("Event")
    OTHER = "other", _("Other")


class TimeStamped(models.Model):
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class InteractionKind(TimeStamped):
    """The catalog of things a contact can do; admins extend it. The slug is the key
    used everywhere (API, rules, imports), so it is the primary key."""

    slug = models.SlugField(_("slug"), max_length=50, primary_key=True)
    name = models.CharField(_("name (English)"), max_length=100)
    name_id = models.CharField(_("name (Bahasa Indonesia)"), max_length=100, blank=True)
    intent_level = models.CharField(_("intent level"), max_length=12, choices=IntentLevel.choices)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("interaction kind")
        verbose_name_plural = _("interaction kinds")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if (get_language() or "").startswith("id") and self.name_id:
            return self.name_id
        return self.name


class ContactQuerySet(models.QuerySet):
    def in_stage(self, stage: str) -> "ContactQuerySet":
        return self.filter(stage=stage)


class Contact(TimeStamped):
    # Identity. Email is stored lowercased and trimmed, phone in E.164; both unique
    # when present (NULL when absent, so many contacts may lack them).
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True, unique=True)
    phone = models.CharField(_("phone"), max_length=20, null=True, blank=True, unique=True)
    social_handle = models.CharField(_("social handle"), max_length=100, blank=True)

    # Firmographics.
    company = models.CharField(_("company"), max_length=200, blank=True)
    job_title = models.CharField(_("job title"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    industry = models.CharField(_("industry"), max_length=12, choices=Industry.choices, default=Industry.OTHER)

    # Where they came from.
    source = models.CharField(_("source"), max_length=100, blank=True)
    utm_source = models.CharField(_("UTM source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("UTM medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("UTM campaign"), max_length=150, blank=True)
    # A record id in the system the contact was imported from; unique per source.
    external_source = models.CharField(_("external source"), max_length=100, blank=True)
    external_ref = models.CharField(_("external reference"), max_length=200, null=True, blank=True)

    # Consent (UU PDP): per channel opt-in, and a do-not-contact override.
    consent_email = models.BooleanField(_("email opt-in"), default=False)
    consent_whatsapp = models.BooleanField(_("WhatsApp opt-in"), default=False)
    consent_sms = models.BooleanField(_("SMS opt-in"), default=False)
    do_not_contact = models.BooleanField(_("do not contact"), default=False)
    # Right to object to profiling: such a contact is left out of automated scoring.
    objects_to_profiling = models.BooleanField(_("objects to profiling"), default=False)

    # No index of its own: contact_owner_stage (owner, stage) serves every lookup by owner, and
    # one index fewer is one fewer write for each contact row rewritten.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="owned_contacts", db_index=False,
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="contacts")
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    # Scoring state, written only by scoring.rescoring.
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.CONTACT)
    stage_pinned = models.BooleanField(_("stage pinned"), default=False)
    stage_changed_at = models.DateTimeField(_("stage changed"), null=True, blank=True)
    score = models.IntegerField(_("score"), default=0)
    score_breakdown = models.JSONField(_("score breakdown"), default=dict, blank=True)
    scored_at = models.DateTimeField(_("scored"), null=True, blank=True)
    # Fingerprint of the stored result (scoring.engine.result_digest): a rescore that
    # reaches the same result skips rewriting the row.
    score_digest = models.BigIntegerField(null=True, blank=True, editable=False)
    # Until when the stored result cannot change without new data (scoring.engine.stable_until,
    # capped at a week): the nightly rescore does not even read the contact before then.
    score_stable_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Durable "score is stale" mark: set in the same transaction as the write that
    # changes a score, cleared by the scorer. A beat job sweeps what a lost task left.
    needs_rescore = models.BooleanField(default=False)

    last_interaction_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    first_contacted_at = models.DateTimeField(_("first contacted"), null=True, blank=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["-score", "-id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        permissions = [
            # gettext_noop: stored in English, shown translated on the user and group pages (crm/admin.py)
            ("reassign_contact", gettext_noop("Can reassign contacts to another owner")),
            ("export_contact", gettext_noop("Can export contacts")),
            ("import_contact", gettext_noop("Can import contacts")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_source", "external_ref"], condition=Q(external_ref__isnull=False),
                name="contact_external_ref_unique_per_source",
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="contact_stage_valid"),
        ]
        indexes = [
            models.Index(fields=["stage", "-score", "-id"], name="contact_stage_score"),
            models.Index(fields=["stage", "-last_interaction_at"], name="contact_stage_activity"),
            models.Index(fields=["stage", "-created_at"], name="contact_stage_created"),
            # Industry is the usual segment: its stage lists page through score order on this index.
            models.Index(fields=["industry", "stage", "-score", "-id"], name="contact_industry_stage_score"),
            # The dashboard's "never contacted" prospects, oldest wait first (counted on every view).
            models.Index(fields=["stage_changed_at", "id"], condition=Q(stage="prospect", first_contacted_at__isnull=True),
                         name="contact_prospect_waiting"),
            models.Index(fields=["owner", "stage"], name="contact_owner_stage"),
            # The list's and the segments' source filter is case-insensitive (iexact: UPPER(source) = UPPER(…)).
            models.Index(Upper("source"), "stage", name="contact_source_ci_stage"),
            models.Index(fields=["-updated_at"], name="contact_updated"),
            models.Index(fields=["needs_rescore"], condition=Q(needs_rescore=True), name="contact_needs_rescore"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.full_name or self.email or self.phone or self.external_ref or f"#{self.pk}"


class Interaction(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="interactions", verbose_name=_("contact"))
    kind = models.ForeignKey(InteractionKind, on_delete=models.PROTECT, related_name="interactions", verbose_name=_("kind"))
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    # The sender's id for this event: a retry with the same (source, external_id) is a no-op.
    external_id = models.CharField(_("external id"), max_length=200, null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=Q(external_id__isnull=False),
                name="interaction_external_id_unique_per_source",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "-occurred_at"], name="interaction_contact_time"),
            models.Index(fields=["kind", "-occurred_at"], name="interaction_kind_time"),
            models.Index(fields=["-occurred_at"], name="interaction_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_id} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class Note(TimeStamped):
    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        FOLLOW_UP = "follow_up", _("Follow-up")
        SYSTEM = "system", _("System")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notes", verbose_name=_("contact"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NOTE)
    body = models.TextField(_("note"))
    # A system note stores its English source text (a msgid) and parameters, so it reads in the
    # viewer's language; `body` keeps the text as written, for search and older notes.
    message = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(_("follow-up due"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="note_contact_time"),
            models.Index(fields=["due_at"], condition=Q(done_at__isnull=True, due_at__isnull=False), name="note_open_follow_up"),
        ]

    def __str__(self) -> str:
        return self.body[:60]

    @property
    def text(self) -> str:
        from contacts.reasons import note_text

        return note_text(self.message, self.params) if self.message else self.body

    @property
    def is_overdue(self) -> bool:
        return bool(self.due_at and not self.done_at and self.due_at < timezone.now())


class StageChange(models.Model):
    """Immutable history: every stage move with a reason a person can read."""

    class Reason(models.TextChoices):
        LEAD = "lead", _("Reached the lead threshold")
        PROSPECT = "prospect", _("Reached the prospect threshold")
        CONVERSION = "conversion", _("Converted")
        DEMOTED_INACTIVE = "demoted_inactive", _("Inactive")
        MANUAL = "manual", _("Set by hand")
        MERGED = "merged", _("Merged")
        ROLLED_BACK = "rolled_back", _("Returned by a rollback")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="stage_changes", verbose_name=_("contact"))
    from_stage = models.CharField(_("from"), max_length=10, choices=Stage.choices)
    to_stage = models.CharField(_("to"), max_length=10, choices=Stage.choices)
    changed_at = models.DateTimeField(_("when"), default=timezone.now)
    reason_code = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    reason_params = models.JSONField(default=dict, blank=True)
    score = models.IntegerField(_("score"), null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ruleset_version = models.ForeignKey(
        "scoring.RuleSetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="stage_changes",
    )

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [
            models.Index(fields=["contact", "-changed_at"], name="stagechange_contact_time"),
            models.Index(fields=["to_stage", "-changed_at"], name="stagechange_to_time"),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage} → {self.to_stage}"

    @property
    def reason_text(self) -> str:
        return reason_text(self.reason_code, self.reason_params, user=self.user)


class ConsentRecord(models.Model):
    """Evidence of consent (UU PDP): who opted in or out of which channel, when, where, under which wording."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        WHATSAPP = "whatsapp", _("WhatsApp")
        SMS = "sms", _("SMS")
        ALL = "all", _("All channels (do not contact)")
        PROFILING = "profiling", _("Automated profiling")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_records")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=100, blank=True)
    wording_version = models.CharField(_("wording version"), max_length=50, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The import whose consent column this came from (source "import").
    import_job = models.ForeignKey("ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("import job"))

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["contact", "-recorded_at"], name="consent_contact_time")]

    def __str__(self) -> str:
        return f"{self.channel}={'yes' if self.granted else 'no'}"


class CaptureForm(models.Model):
    """A landing-page form that posts to /api/capture/ with a public key instead of a token."""

    name = models.CharField(_("name"), max_length=100)
    public_key = models.CharField(_("public key"), max_length=64, unique=True)
    allowed_origins = models.JSONField(_("allowed origins"), default=list, blank=True,
                                       help_text=_("e.g. https://promo.example.co.id; empty allows none from browsers"))
    thank_you_url = models.URLField(_("thank-you URL"), blank=True)
    source = models.CharField(_("source"), max_length=100, blank=True)
    industry = models.CharField(_("industry"), max_length=12, choices=Industry.choices, blank=True)
    consent_wording_version = models.CharField(_("consent wording version"), max_length=50, blank=True)
    # Off: a submission only fills an existing contact's blank fields (anyone who knows an email
    # could otherwise rewrite that contact); what it said is kept on the timeline either way.
    overwrite_contact_fields = models.BooleanField(
        _("overwrite existing contacts' fields"), default=False,
        help_text=_("Off (recommended): a submission for an existing contact only fills its empty fields; the values "
                    "sent are kept with the submission. On: name, company, job title, city and industry are replaced "
                    "by what the visitor typed. Email and phone are never replaced."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("capture form")
        verbose_name_plural = _("capture forms")

    def __str__(self) -> str:
        return self.name


class ImportJob(models.Model):
    """One spreadsheet import: the uploaded file, its column mapping, progress and bad rows."""

    class Status(models.TextChoices):
        PARSING = "parsing", _("Reading the file")
        UPLOADED = "uploaded", _("Waiting for a mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    file_name = models.CharField(max_length=255)
    # The file itself lives in the database: workers on other machines can read it, nothing on disk to clean.
    content = models.BinaryField()
    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"row": n, "values": [...], "reason": "..."}]
    # Cells left out of rows that were imported (a bad value in an optional column): counted, and the first kept.
    warned = models.PositiveIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)  # [{"row": n, "column": "...", "value": "...", "reason": "..."}]
    message = models.TextField(blank=True)  # as written, in the uploader's language (older jobs: only this)
    # The same message as [msgid, params] pairs (crm.texts), so it reads in the reader's language.
    message_parts = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return self.file_name

    @property
    def text(self) -> str:
        """The job's message in the active language (an older job's as written)."""
        from crm.texts import texts_render

        return texts_render(self.message_parts) if self.message_parts else self.message



class ImportChunk(models.Model):
    """A chunk of an import's rows that is done (`number`: its rows are number × chunk size onwards).
    Written in the chunk's own transaction, so a row here means its rows are committed; the unique
    pair is the claim that lets several runners share one job without doing a chunk twice."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="import_chunk_once")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.number}"

class ContactMerge(models.Model):
    """A record that `merged` (now deleted) was folded into `kept`, with a snapshot of its fields."""

    kept = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged_contact_id = models.BigIntegerField()
    merged_snapshot = models.JSONField(default=dict)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(default=timezone.now)
    # What undoing needs (contacts.merge.merge_undo): the kept contact's id at merge time, the rows moved (by
    # model label and id), the kept contact's values the merge overwrote, the tags it gained, the opt-ins carried.
    undo_data = models.JSONField(default=dict, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"#{self.merged_contact_id} → #{self.kept_id}"

    @property
    def merged_name(self) -> str:
        """The removed contact's name (or email) from the snapshot; "—" once erased."""
        snapshot = self.merged_snapshot or {}
        return snapshot.get("full_name") or snapshot.get("email") or "—"


class Segment(TimeStamped):
    """A named, shared filter over contacts: `filters` holds the contact list's own filter
    parameters (contacts.selectors.ContactFilter), e.g. {"stage": "lead", "score_gte": 10,
    "attributes.segment": "gold"}. Evaluated whenever it is used, never frozen: see
    contacts.selectors.segment_contacts. Written only through contacts.segments."""

    name = models.CharField(_("name"), max_length=100)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [models.UniqueConstraint(Lower("name"), name="segment_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class ContactSearch(models.Model):
    """What the search reads of a contact: name, email, company and phone as one text, kept by
    database triggers (contacts.search_text) and indexed once (trigram GIN on PostgreSQL).

    A table of its own so that rewriting a contact's score does not rewrite the search's index:
    no update of a scored row can be HOT (score is in the stage indexes), and while the trigram
    indexes were on contacts each rescore inserted ~70 trigrams per row into them although no
    searched column had changed (docs/decisions.md, "The search text")."""

    # No foreign key constraint: derived data the triggers write and delete with the contact,
    # so a contact's delete or a bulk insert pays no constraint check or cascade query.
    contact = models.OneToOneField(Contact, primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                   related_name="+")
    text = models.TextField()

    def __str__(self) -> str:
        return f"#{self.contact_id}"


class StageCount(models.Model):
    """The stage rollup's counts: contacts per (day created, industry, source, owner, stage).

    A log of deltas, not one row per key: database triggers on contacts append +n/-n rows in
    the same statement's transaction as every write (contacts.rollup installs them), so no
    writer ever waits for another on a hot row; readers SUM(n) GROUP BY what they need, and
    contacts.rollup.rollup_compact folds the log every minute. `day` is the local date (TIME_ZONE)
    of created_at. docs/decisions.md, "The stage rollup"."""

    day = models.DateField()
    industry = models.CharField(max_length=12)
    source = models.CharField(max_length=100)
    # The owner's user id, 0 for none (equality and GROUP BY without NULL cases); no foreign key:
    # a log row locks nothing and a deleted user's rows are moved by the UPDATE that unassigns.
    owner_id = models.IntegerField(default=0)
    stage = models.CharField(max_length=10)
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["industry", "day"], name="stagecount_industry_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.industry}/{self.source}/{self.owner_id} {self.stage} {self.n:+d}"


class StageMove(models.Model):
    """The stage rollup's moves: stage changes per (day changed, industry, source, owner, from, to),
    keyed by the contact's *current* industry, source and owner (as the dashboard filters them): a
    contact whose owner changes takes its moves along. A delta log like StageCount."""

    day = models.DateField()
    industry = models.CharField(max_length=12)
    source = models.CharField(max_length=100)
    owner_id = models.IntegerField(default=0)  # 0: no owner
    from_stage = models.CharField(max_length=10)
    to_stage = models.CharField(max_length=10)
    n = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="stagemove_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.industry}/{self.source}/{self.owner_id} {self.from_stage}→{self.to_stage} {self.n:+d}"


class CustomField(TimeStamped):
    """A typed field admins define on contacts. The value lives in Contact.attributes[key], stored
    typed (a number as a JSON number, a date as an ISO "YYYY-MM-DD" string, a choice as its value),
    so attribute filters and rules (`attributes.<key>`) read it like any imported attribute.
    Written only through contacts.fields (audited); contacts.services checks values by type."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")

    key = models.CharField(_("key"), max_length=50, unique=True,
                           help_text=_("The key inside the contact's attributes, e.g. plan or employees. Cannot be changed later."))
    label_en = models.CharField(_("label (English)"), max_length=100)
    label_id = models.CharField(_("label (Bahasa Indonesia)"), max_length=100)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices, default=Type.TEXT)
    # Choice fields: [{"value": "gold", "label_en": "Gold", "label_id": "Emas"}, ...] (labels optional).
    choices = models.JSONField(_("choices"), default=list, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if (get_language() or "").startswith("id") and self.label_id:
            return self.label_id
        return self.label_en or self.key

    @property
    def attribute(self) -> str:
        """The name filters and rules use: attributes.<key>."""
        return f"attributes.{self.key}"

    def choice_pairs(self) -> list[tuple[str, str]]:
        """(value, label in the active language) of a choice field."""
        indonesian = (get_language() or "").startswith("id")
        pairs = []
        for choice in self.choices or []:
            value = str(choice.get("value", ""))
            label = (choice.get("label_id") if indonesian else choice.get("label_en")) or choice.get("label_en") or value
            pairs.append((value, label))
        return pairs
