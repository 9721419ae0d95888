"""The content library and what was sent: messages with a purpose, and one Delivery per message
to one person. Writes go through nurture.services; the guardrails live in nurture.guardrails."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, Industry, Segment, Stage
from nurture import guardrails


class Purpose(models.TextChoices):
    FIRST_TOUCH = guardrails.FIRST_TOUCH, _("First touch")
    EDUCATION = guardrails.EDUCATION, _("Education")
    PROMO = guardrails.PROMO, _("Promo")
    FOLLOW_UP = guardrails.FOLLOW_UP, _("Follow-up")
    ONBOARDING = guardrails.ONBOARDING, _("Onboarding")


class MessageChannel(models.TextChoices):
    EMAIL = guardrails.EMAIL, _("Email")
    WHATSAPP = guardrails.WHATSAPP, _("WhatsApp")


class Language(models.TextChoices):
    ID = "id", _("Bahasa Indonesia")
    EN = "en", _("English")


class Message(models.Model):
    """One piece of content: an email or a WhatsApp text, for one purpose, industry and language."""

    name = models.CharField(_("name"), max_length=150)
    channel = models.CharField(_("channel"), max_length=10, choices=MessageChannel.choices, default=MessageChannel.EMAIL)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    industry = models.CharField(_("industry"), max_length=12, choices=Industry.choices, blank=True,
                                help_text=_("Empty: every industry."))
    language = models.CharField(_("language"), max_length=2, choices=Language.choices, default=Language.ID)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"))
    # The starter library's key, so loading it again updates nothing a marketer changed.
    starter_key = models.CharField(max_length=80, null=True, blank=True, unique=True, editable=False)
    is_archived = models.BooleanField(_("archived"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["purpose", "industry", "language", "name"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return self.name


class Sequence(models.Model):
    """"When a contact enters stage S (of industry I): wait N days, send M; wait…". Steps are read
    when they are due, so editing a sequence changes future steps only."""

    name = models.CharField(_("name"), max_length=150)
    trigger_stage = models.CharField(_("when a contact enters"), max_length=10, choices=Stage.choices)
    industry = models.CharField(_("industry"), max_length=12, choices=Industry.choices, blank=True,
                                help_text=_("Empty: every industry."))
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("segment"), help_text=_("Only contacts in this segment when they enter the stage."))
    from_email = models.CharField(_("from"), max_length=200, blank=True,
                                  help_text=_("e.g. Tim Kampus <info@kampus.example>; empty: the default sender."))
    is_paused = models.BooleanField(_("paused"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["trigger_stage", "name"]
        verbose_name = _("sequence")
        verbose_name_plural = _("sequences")

    def __str__(self) -> str:
        return self.name


class SequenceStep(models.Model):
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    wait_days = models.PositiveSmallIntegerField(_("wait (days)"), default=0)
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="+", verbose_name=_("message"))

    class Meta:
        ordering = ["sequence", "position"]
        constraints = [models.UniqueConstraint(fields=["sequence", "position"], name="sequence_step_position")]

    def __str__(self) -> str:
        return f"{self.sequence_id}#{self.position}"


class Enrollment(models.Model):
    """One contact going through one sequence. At most one active enrollment per sequence and
    contact (a partial unique constraint), however often the stage change is reported."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        EXITED = "exited", _("Exited")

    class Exit(models.TextChoices):
        STAGE_CHANGED = "stage_changed", _("Stage changed")
        CONVERTED = "converted", _("Converted")
        UNSUBSCRIBED = "unsubscribed", _("No consent or unsubscribed")
        REP_TOOK_OVER = "rep_took_over", _("A rep took over")
        ERASED = "erased", _("Erased")

    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    exit_reason = models.CharField(max_length=15, choices=Exit.choices, blank=True)
    enrolled_at = models.DateTimeField(default=timezone.now)
    # The next step to send (its position) and when it is due; null once nothing is left.
    next_position = models.PositiveSmallIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["sequence", "contact"], condition=Q(status="active"),
                                               name="enrollment_one_active")]
        indexes = [models.Index(fields=["next_due_at"], condition=Q(status="active"), name="enrollment_due")]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.sequence_id} ({self.status})"


class Campaign(models.Model):
    """One message to a segment, once. The recipients are fixed when it is sent (one Delivery each);
    the counts of who was skipped, and why, are kept with it."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENDING = "sending", _("Sending")
        DONE = "done", _("Done")

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("message"))
    segment = models.ForeignKey(Segment, null=True, on_delete=models.SET_NULL, related_name="campaigns",
                                verbose_name=_("segment"))
    segment_name = models.CharField(max_length=100, blank=True)  # as it was when sent, if the segment goes
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    recipients = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, blank=True)  # reason -> count, when it was sent
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Who pressed Send: the audience is what they may see (a sales rep: their own contacts).
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return f"{self.message} → {self.segment_name or self.segment_id}"


class Delivery(models.Model):
    """One message to one contact. Created before anything is sent; the send claims it with a
    conditional UPDATE (queued -> sending), so a redelivered task or a second worker never sends
    it twice, and a unique constraint makes each campaign recipient and sequence step one row."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        BOUNCED = "bounced", _("Bounced")
        FAILED = "failed", _("Failed")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deliveries")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=MessageChannel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    enrollment = models.ForeignKey(Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    step_position = models.PositiveSmallIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)  # when the current (or last) send began
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            # A sequence step is sent at most once per enrollment, whoever races to send it.
            models.UniqueConstraint(fields=["enrollment", "step_position"], condition=Q(enrollment__isnull=False),
                                    name="delivery_one_per_step"),
            # A campaign reaches each recipient once, however often its send is started.
            models.UniqueConstraint(fields=["campaign", "contact"], condition=Q(campaign__isnull=False),
                                    name="delivery_one_per_campaign_contact"),
        ]
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="delivery_contact_time"),
            models.Index(fields=["next_attempt_at"], condition=Q(status="queued"), name="delivery_queued_due"),
            models.Index(fields=["campaign", "status"], condition=Q(campaign__isnull=False), name="delivery_campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} -> {self.contact_id} ({self.status})"
