"""The industries Saring knows: a contact's, a rule set's, a rep's. Here, below every app,
because crm's rep profiles need them as much as contacts do."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Industry(models.TextChoices):
    ECOMMERCE = "ecommerce", _("E-commerce")
    B2B = "b2b", _("B2B")
    HEALTHCARE = "healthcare", _("Healthcare")
    EDUCATION = "education", _("Education")
    OTHER = "other", _("Other")
