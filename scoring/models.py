"""Admin-configured scoring: rule sets, their versions (draft → published → archived),
the rules in each version, and the progress of full rescores.

A published version is never edited: editing makes a draft copy, publishing the
draft archives the previous version, so every StageChange can point at the exact
rules that caused it, and rolling back means publishing an older version again.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from contacts.models import Industry, InteractionKind


class RuleSet(models.Model):
    """One per industry plus the default (industry empty)."""

    name = models.CharField(_("name"), max_length=100)
    industry = models.CharField(_("industry"), max_length=12, choices=Industry.choices, blank=True, unique=True)
    playbook = models.CharField(_("playbook"), max_length=20, blank=True)
    active_version = models.ForeignKey(
        "RuleSetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("active version"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["industry"]
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")
        permissions = [("publish_ruleset", gettext_noop("Can preview and publish rule sets"))]  # crm/admin.py

    def __str__(self) -> str:
        return self.name

    @property
    def is_default(self) -> bool:
        return not self.industry

    @property
    def display_name(self) -> str:
        """The name in the active language when it is the built-in playbook's title; as typed otherwise."""
        return ruleset_name(self.name, self.playbook)

    def draft(self) -> "RuleSetVersion | None":
        return self.versions.filter(status=RuleSetVersion.Status.DRAFT).first()


class RuleSetVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    ruleset = models.ForeignKey(RuleSet, on_delete=models.CASCADE, related_name="versions", verbose_name=_("rule set"))
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    note = models.CharField(_("change note"), max_length=300, blank=True)
    # A note the system wrote ("Loaded from the b2b playbook") as a msgid and parameters (crm.texts), read in
    # the viewer's language; `note` keeps it as written. Editing the note clears these.
    note_message = models.CharField(max_length=200, blank=True, default="")
    note_params = models.JSONField(default=dict, blank=True)

    # Stage policy.
    lead_threshold = models.IntegerField(_("lead threshold"), default=20)
    prospect_threshold = models.IntegerField(_("prospect threshold"), default=60)
    prospect_requires_intent = models.BooleanField(_("prospect requires a buying-intent interaction"), default=True)
    intent_window_days = models.PositiveIntegerField(_("intent window (days)"), null=True, blank=True, default=30)
    conversion_kinds = models.ManyToManyField(
        InteractionKind, blank=True, related_name="+", verbose_name=_("interactions that make a customer"),
    )
    demote_after_days = models.PositiveIntegerField(_("demote after inactive days"), null=True, blank=True)
    decay_half_life_days = models.FloatField(_("decay half-life (days)"), null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["ruleset", "-number"]
        verbose_name = _("rule set version")
        verbose_name_plural = _("rule set versions")
        constraints = [
            models.UniqueConstraint(fields=["ruleset", "number"], name="ruleset_version_number_unique"),
            # At most one draft per rule set: everyone edits the same draft.
            models.UniqueConstraint(fields=["ruleset"], condition=Q(status="draft"), name="ruleset_one_draft"),
            models.CheckConstraint(condition=Q(prospect_threshold__gte=models.F("lead_threshold")), name="ruleset_thresholds_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.ruleset} v{self.number} ({self.get_status_display()})"

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def display_note(self) -> str:
        return rule_label(self.note, self.note_message, self.note_params)


class Rule(models.Model):
    class Type(models.TextChoices):
        INTERACTION = "interaction", _("Interaction")
        ATTRIBUTE = "attribute", _("Attribute")

    class Operator(models.TextChoices):
        EQ = "eq", _("equals")
        NEQ = "neq", _("does not equal")
        IN = "in", _("is one of")
        NOT_IN = "not_in", _("is none of")
        CONTAINS = "contains", _("contains")
        STARTSWITH = "startswith", _("starts with")
        ENDSWITH = "endswith", _("ends with")
        IS_SET = "is_set", _("is set")
        IS_BLANK = "is_blank", _("is blank")
        GT = "gt", _(">")
        GTE = "gte", _("≥")
        LT = "lt", _("<")
        LTE = "lte", _("≤")

    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="rules", verbose_name=_("version"))
    position = models.PositiveIntegerField(_("position"), default=0)
    type = models.CharField(_("type"), max_length=12, choices=Type.choices)
    label = models.CharField(_("label"), max_length=150)
    points = models.FloatField(_("points"))

    # Interaction rules.
    interaction_kind = models.ForeignKey(
        InteractionKind, null=True, blank=True, on_delete=models.PROTECT, related_name="rules", verbose_name=_("interaction kind"),
    )
    window_days = models.PositiveIntegerField(_("window (days)"), null=True, blank=True)
    max_occurrences = models.PositiveIntegerField(_("max occurrences"), null=True, blank=True)

    # The condition: on the contact (attribute rules) or on the interaction's data (optional for interaction rules).
    field = models.CharField(_("field / data key"), max_length=100, blank=True)
    operator = models.CharField(_("operator"), max_length=10, choices=Operator.choices, blank=True)
    value = models.JSONField(_("value"), null=True, blank=True)

    # Where the label came from, for reading it in the viewer's language: a built-in label (a playbook's,
    # the rule advisor's) keeps its English source text (a msgid) and parameters (crm.texts: numbers
    # stay numbers, so "0,35" in Indonesian). Empty for a label a person typed, which shows as typed.
    # `label` holds the text as written (search, the API, the editor); editing it clears these.
    label_message = models.CharField(max_length=300, blank=True, default="")
    label_params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["version", "type", "position", "id"]
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(type="attribute", interaction_kind__isnull=True) | Q(type="interaction", interaction_kind__isnull=False),
                name="rule_kind_matches_type",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.points:+g})"

    @property
    def display_label(self) -> str:
        """The label in the active language when it is a built-in one; as typed otherwise."""
        return rule_label(self.label, self.label_message, self.label_params)


def ruleset_name(name: str, playbook: str) -> str:
    from scoring.playbooks import PLAYBOOKS

    built_in = PLAYBOOKS.get(playbook)
    return gettext(name) if built_in is not None and name == built_in.title else name


def rule_label(label: str, message: str, params: dict | None) -> str:
    if not message:
        return label
    from crm.texts import text_render

    return text_render(message, params)


RUN_REASONS = {"nightly": _("Nightly rescore"), "manage.py rescore": _("Rescore started from the command line")}


class RescoreRun(models.Model):
    """A full rescore, split into contact-id ranges that any worker may take.

    Progress is stored here so the UI can show it and a killed worker's chunks can
    be found and queued again."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    reason = models.CharField(_("reason"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    total_chunks = models.PositiveIntegerField(default=0)
    done_chunks = models.PositiveIntegerField(default=0)
    contacts_scored = models.PositiveIntegerField(default=0)
    stage_changes = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The version whose publish started the run: the page names it in the reader's language
    # (`reason` stays as written, for logs and the runs a command or the nightly job starts).
    version = models.ForeignKey("RuleSetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="rescore_runs")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Rescore #{self.pk} ({self.done_chunks}/{self.total_chunks})"

    @property
    def label(self) -> str:
        if self.version_id:
            return _("Published %(ruleset)s v%(number)s") % {"ruleset": self.version.ruleset.display_name,
                                                             "number": self.version.number}
        return str(RUN_REASONS.get(self.reason, self.reason or _("Rescore")))

    @property
    def percent(self) -> int:
        return 100 if not self.total_chunks else int(100 * self.done_chunks / self.total_chunks)


class RescoreChunk(models.Model):
    run = models.ForeignKey(RescoreRun, on_delete=models.CASCADE, related_name="chunks")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "first_id"]
        indexes = [models.Index(fields=["run"], condition=Q(done_at__isnull=True), name="rescorechunk_pending")]

    def __str__(self) -> str:
        return f"{self.first_id}–{self.last_id}"


class Backtest(models.Model):
    """A backtest (or an advisor run) of one version over contacts with known outcomes; results stored with the version."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    version = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="backtests")
    kind = models.CharField(max_length=10, default="backtest")  # "backtest" | "advisor"
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveIntegerField(default=0)  # percent
    results = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)  # why it failed, as written (older runs: only this)
    message_parts = models.JSONField(default=list, blank=True)  # the same as [msgid, params] pairs (crm.texts)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("backtest")
        verbose_name_plural = _("backtests")

    def __str__(self) -> str:
        return f"{self.kind} of {self.version} ({self.status})"

    @property
    def text(self) -> str:
        """Why it failed, in the active language."""
        from crm.texts import texts_render

        return texts_render(self.message_parts) if self.message_parts else self.message
