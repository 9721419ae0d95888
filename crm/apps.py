import logging

from django.apps import AppConfig
from django.conf import settings


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Saring"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Models added after the roles migration need their permissions in the groups too.
        post_migrate.connect(_refresh_role_groups, sender=self)
        if settings.EMBEDDED_DATABASE or settings.EMBEDDED_BROKER:
            logging.getLogger("crm").info(
                "Running on the embedded default (%s; %s). Set DATABASE_URL and REDIS_URL for PostgreSQL and Redis.",
                "SQLite db.sqlite3" if settings.EMBEDDED_DATABASE else "PostgreSQL",
                "Celery tasks run eagerly in-process" if settings.CELERY_TASK_ALWAYS_EAGER else "Redis broker",
            )


def _refresh_role_groups(sender, **kwargs) -> None:
    from crm.roles import ensure_groups

    ensure_groups()
