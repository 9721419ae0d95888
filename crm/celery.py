import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_db_connections(sender=None, **kwargs) -> None:
    """With CELERY_DB_REUSE_MAX set the fixup keeps connections; drop one that is older than CONN_MAX_AGE or
    broken, before and after each task, as Django does around a request. Eager tasks run in the caller's."""
    if sender is not None and not getattr(sender.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()
