"""The beat schedule (settings.CELERY_BEAT_SCHEDULE) names only tasks a worker knows."""

from django.conf import settings


def test_every_beat_entry_names_a_registered_task():
    from crm.celery import app

    app.loader.import_default_modules()  # what a worker does at start: CELERY_IMPORTS and autodiscovery
    missing = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks]
    assert not missing
