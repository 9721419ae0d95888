from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.industries import Industry


class SalesRepProfile(models.Model):
    """What round-robin assignment needs to know about a sales rep."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep_profile")
    industries = models.JSONField(
        _("industries"), default=list, blank=True,
        help_text=_("Only receive new prospects of these industries (empty: any industry)."),
    )
    accepts_new_prospects = models.BooleanField(_("accepts new prospects"), default=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sales rep profile")
        verbose_name_plural = _("sales rep profiles")

    def __str__(self) -> str:
        return str(self.user)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        unknown = set(self.industries) - set(Industry.values)
        if unknown:
            raise ValidationError({"industries": _("Unknown industries: %s") % ", ".join(sorted(unknown))})


class AuditEvent(models.Model):
    """Who viewed, exported, changed, merged or deleted contacts and rules, and when.
    Holds ids and field names, never the personal data itself."""

    class Action(models.TextChoices):
        VIEW = "view", _("viewed")
        CREATE = "create", _("created")
        CHANGE = "change", _("changed")
        DELETE = "delete", _("deleted")
        ANONYMISE = "anonymise", _("anonymised")
        EXPORT = "export", _("exported")
        IMPORT = "import", _("imported")
        MERGE = "merge", _("merged")
        PUBLISH = "publish", _("published")
        ACCESS_REQUEST = "access", _("downloaded subject data")
        SEND = "send", _("sent")

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=50, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type}#{self.object_id}"


class BulkAction(models.Model):
    """A bulk action on contacts, from its preview to its result (crm.bulk).

    The preview freezes the selection (the contact ids, at most the list cap); only its author
    opens it (anyone else gets a 404). Confirming claims the row (status draft → done, a conditional UPDATE in the action's
    transaction), so a double click or a resubmitted form runs the action once and shows the
    stored result the second time. Holds ids and counts, never personal data."""

    class Kind(models.TextChoices):
        ASSIGN = "assign", _("Assign owner")
        TAG = "tag", _("Add tag")
        UNTAG = "untag", _("Remove tag")
        STAGE = "stage", _("Set stage")
        SEQUENCE = "sequence", _("Add to sequence")
        ERASE = "erase", _("Erase")

    class Status(models.TextChoices):
        DRAFT = "draft", _("previewed")
        QUEUED = "queued", _("running")  # confirmed; a worker runs it (big selections, erasures)
        DONE = "done", _("done")

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=20, choices=Kind.choices)
    # How the contacts were chosen, for the audit row: {"scope": "ids"|"list"|"segment", "segment": id, "filters": {...}}.
    selection = models.JSONField(default=dict, blank=True)
    contact_ids = models.JSONField(default=list, blank=True)
    next_url = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    params = models.JSONField(default=dict, blank=True)  # what was confirmed (stage, tag, owner, sequence, mode)
    note = models.CharField(max_length=200, blank=True)  # a stage change's reason, for a run on a worker
    result = models.JSONField(default=dict, blank=True)  # {"done": n, "skipped": {reason: n}}
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bulk action")
        verbose_name_plural = _("bulk actions")

    def __str__(self) -> str:
        return f"{self.action} ({self.status}, {len(self.contact_ids)} contacts)"
