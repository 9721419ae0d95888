"""crm.wsgi for the bench's gunicorn: the same application, with the tasks it queues routed
to the bench's own Celery queue (so a developer's worker never sees them, see bench/worker.py)."""

import os

from crm.celery import app
from crm.wsgi import application  # noqa: F401 - what gunicorn serves

app.conf.task_default_queue = os.environ.get("BENCH_CELERY_QUEUE", "bench")
