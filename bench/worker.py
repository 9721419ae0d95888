"""`celery -A crm worker` on the bench's own queue (python -m bench.worker ARGS).

The queue is set here rather than in settings so that a developer's real worker on the
same Redis never takes the bench's tasks, and the bench's workers never take theirs."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
django.setup()

from crm.celery import app  # noqa: E402

app.conf.task_default_queue = os.environ.get("BENCH_CELERY_QUEUE", "bench")

if __name__ == "__main__":
    app.worker_main(["worker", *sys.argv[1:]])
