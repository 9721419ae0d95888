from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = _("Follow-up")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from contacts.events import contacts_assigned, stage_changed
        from contacts.privacy import register_anonymiser, register_export_section
        from followup import privacy, receivers

        stage_changed.connect(lambda sender, changes, **kw: receivers.on_stage_changes(changes), weak=False,
                              dispatch_uid="followup.stage_changed")
        contacts_assigned.connect(lambda sender, assignments, by=None, **kw: receivers.on_assigned(assignments, by),
                                  weak=False, dispatch_uid="followup.assigned")
        post_save.connect(lambda sender, instance, **kw: receivers.on_user_saved(instance, **kw), sender=get_user_model(),
                          weak=False, dispatch_uid="followup.user_saved")
        # The access export lists, and anonymisation clears, what follow-up holds about a person.
        register_export_section("tasks", privacy.tasks_of)
        register_anonymiser("followup", privacy.anonymise)
