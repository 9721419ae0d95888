from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NurtureConfig(AppConfig):
    name = "nurture"
    verbose_name = _("Nurture")

    def ready(self) -> None:
        from contacts.events import stage_changed
        from contacts.privacy import register_anonymiser, register_export_section
        from nurture import privacy
        from nurture.sequences import on_stage_changes

        stage_changed.connect(lambda sender, changes, **kwargs: on_stage_changes(changes), weak=False,
                              dispatch_uid="nurture.sequences")
        # The access export lists, and anonymisation clears, what nurture holds about a person.
        register_export_section("deliveries", privacy.deliveries_of)
        register_export_section("enrollments", privacy.enrollments_of)
        register_anonymiser("nurture", privacy.anonymise)
