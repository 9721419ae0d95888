#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""
import os
import secrets
import sys

# Commands that only read the code and write files: no secret is signed, no host is served, so
# with DEBUG off and no DJANGO_SECRET_KEY they run with a throwaway key instead of refusing (a
# bare `makemigrations --check` must be able to say whether a migration is missing).
CODE_ONLY = {"makemigrations", "makemessages"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    if sys.argv[1:2] and sys.argv[1] in CODE_ONLY:
        os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
        os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    if sys.argv[1:2] not in ([], ["help"], ["--help"], ["-h"], ["--version"]):
        # Django keeps a settings error to itself and most commands then fail with "Models aren't
        # loaded yet": say what is missing instead (with DEBUG off, a secret key and allowed hosts).
        try:
            settings.INSTALLED_APPS  # noqa: B018 (reading it loads the settings)
        except ImproperlyConfigured as exc:
            sys.exit(f"manage.py: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
