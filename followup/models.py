"""A rep's follow-up tasks on contacts, and in-app notifications (which are also the outbox of
the emails that tell people about them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact


class TaskType(models.TextChoices):
    CALL = "call", _("Call")
    WHATSAPP = "whatsapp", _("WhatsApp")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    OTHER = "other", _("Other")


class Outcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    NOT_INTERESTED = "not_interested", _("Not interested")
    MEETING_BOOKED = "meeting_booked", _("Meeting booked")


class Task(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("contact"))
    type = models.CharField(_("type"), max_length=10, choices=TaskType.choices, default=TaskType.CALL)
    due_at = models.DateTimeField(_("due"))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="followup_tasks", verbose_name=_("assignee"))
    note = models.TextField(_("note"), blank=True)
    # A task the system creates stores its sentence's English source text (a msgid) and parameters, so it
    # reads in the viewer's language (`text`); `note` keeps the text as written, for the API and search.
    message = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(_("outcome"), max_length=15, choices=Outcome.choices, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("done by"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["assignee", "due_at"], condition=Q(done_at__isnull=True), name="task_open_by_assignee"),
            models.Index(fields=["contact", "due_at"], condition=Q(done_at__isnull=True), name="task_open_by_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} · {self.contact_id} @ {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_overdue(self) -> bool:
        return self.done_at is None and self.due_at < timezone.now()

    @property
    def text(self) -> str:
        """The note in the reader's language: a system task's sentence from its msgid, then what a person
        added when completing it (`task_complete` appends after a blank line)."""
        if not self.message:
            return self.note
        from contacts.reasons import note_text

        _written, _blank, added = self.note.partition("\n\n")
        return "\n\n".join(part for part in (note_text(self.message, self.params), added) if part)


class Notification(models.Model):
    """Stored as a code plus parameters and rendered in the reader's language (followup.texts).
    Its email columns make it the outbox of the email that goes with it: the row is claimed
    (queued -> sending) before sending, so a retried or redelivered task sends nothing twice."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("Prospect assigned")
        DIGEST = "digest", _("Daily digest")
        TEAM_DIGEST = "team_digest", _("Team digest")

    class Email(models.TextChoices):
        NONE = "", _("No email")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    params = models.JSONField(default=dict, blank=True)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="followup_notifications")
    # One notification per (user, key): the digest of a day, the assignment of a contact at a time.
    key = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(max_length=8, choices=Email.choices, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_unique_key")]
        indexes = [
            models.Index(fields=["user", "-created_at"], condition=Q(read_at__isnull=True), name="notification_unread"),
            models.Index(fields=["email_status"], condition=Q(email_status__in=["queued", "sending"]),
                         name="notification_email_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.user_id}"

    @property
    def text(self) -> str:
        from followup.texts import notification_text

        return notification_text(self.kind, self.params, self.contact)


class EmailPreferences(models.Model):
    """Which follow-up emails a user gets (the in-app notifications always appear)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="followup_prefs")
    on_assignment = models.BooleanField(_("email me when a prospect is assigned to me"), default=True)
    digest = models.BooleanField(_("email me a daily digest"), default=True)
    # The language of the emails (the one the user last saved these preferences in).
    language = models.CharField(max_length=8, blank=True)

    class Meta:
        verbose_name = _("email preferences")
        verbose_name_plural = _("email preferences")

    def __str__(self) -> str:
        return str(self.user)
