from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    name = "nurture"
    verbose_name = _("Nurture")

    def ready(self) -> None:
        from contacts.events import stage_changed
        from nurture.sequences import on_stage_changes

        stage_changed.connect(lambda sender, changes, **kwargs: on_stage_changes(changes), weak=False,
                              dispatch_uid="nurture.sequences")
