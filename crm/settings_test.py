"""Settings for the test run (pyproject's DJANGO_SETTINGS_MODULE): the embedded default in
development mode. DEBUG is off unless DJANGO_DEBUG says otherwise, so the tests say it, here,
before crm.settings reads the environment; subprocesses that tests start inherit it.
(pytest-django still runs each test with DEBUG off, as production does.)"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from crm.settings import *  # noqa: F403
