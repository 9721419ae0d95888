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
        import crm.api_schema_strict  # noqa: F401 - registers the schema extensions of crm.api_strict
        from crm.background import connect_signals

        connect_signals()  # background work a request starts begins once its response is sent
        from crm.tokens import connect_token_cache_signals

        connect_token_cache_signals()  # a revoked token's cached answer goes at once
        if settings.EMBEDDED_DATABASE or settings.EMBEDDED_BROKER:
            logging.getLogger("crm").info(
                "Running partly on the embedded default (database: %s; %s). Set DATABASE_URL and REDIS_URL for "
                "PostgreSQL and Redis.",
                database_description(settings.DATABASES["default"]),
                "Celery tasks run eagerly in-process" if settings.CELERY_TASK_ALWAYS_EAGER else "Redis broker",
            )


def database_description(database: dict) -> str:
    """The engine and the database it points at, as a person reads it: "SQLite /srv/crm.sqlite3"."""
    engine = database["ENGINE"].rsplit(".", 1)[-1]
    label = {"sqlite3": "SQLite", "postgresql": "PostgreSQL"}.get(engine, engine)
    return f"{label} {database.get('NAME') or ''}".strip()


def _refresh_role_groups(sender, **kwargs) -> None:
    from crm.roles import ensure_groups

    ensure_groups()
