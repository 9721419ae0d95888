# Saring: developer and CI entry points. `make demo` and `make test` need nothing but
# Python: with DATABASE_URL and REDIS_URL unset the project runs on SQLite with eager Celery.

PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
DEMO_CONTACTS ?= 3000
PYTEST_ARGS ?=
# make test JOBS=2 (or auto): the suite in that many pytest-xdist processes; 0 runs it in this one.
JOBS ?= 0
SIZE ?= S
# make demo DATA=bank (or shoppers): a real public data set from data/ instead of generated contacts.
DATA ?=

# Prefer the compose plugin when it works; Debian's docker-compose 1.29 otherwise.
COMPOSE = $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# apt needs root; use sudo when we are not.
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv messages demo test bench browser-deps lint check-deploy compose-check smoke backup restore clean

# The stamp is newer than both requirements files only after a successful install,
# so editing either one re-installs and nothing else does.
venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -r requirements-dev.txt
	touch $@

# Development entry points run with DEBUG on (it is off when DJANGO_DEBUG is unset), unless
# the caller says otherwise; DEBUG on also lets the embedded default use its development secret key.
DEV_ENV = DJANGO_DEBUG=$${DJANGO_DEBUG:-1}

# The compiled catalog is committed, so a machine without gettext still runs in Bahasa Indonesia;
# with msgfmt, this rebuilds it from the .po (tests/i18n fails if the committed one is stale).
messages: venv
	@if [ ! -d locale ]; then \
		echo "messages: no locale/ directory, nothing to compile"; \
	elif ! command -v msgfmt >/dev/null 2>&1; then \
		echo "messages: msgfmt not found; using the committed locale/id/LC_MESSAGES/django.mo (apt-get install gettext to rebuild it)."; \
	else \
		$(DEV_ENV) $(VPY) manage.py compilemessages -l id --ignore=$(VENV); \
	fi

demo: venv messages
	$(DEV_ENV) $(VPY) manage.py migrate --noinput
	$(DEV_ENV) $(VPY) manage.py seed_demo $(if $(DATA),--from $(DATA),--contacts $(DEMO_CONTACTS)) --with-users --if-empty
	$(DEV_ENV) CRM_FRIENDLY_404=$${CRM_FRIENDLY_404:-1} $(VPY) manage.py runserver 127.0.0.1:8000

# pytest options live in the pytest config (its settings module, crm.settings_test, turns DEBUG on);
# PYTEST_ARGS is for ad-hoc additions. With JOBS, each xdist process has its own test database and
# Redis databases (crm/settings_test.py); loadgroup keeps the fault tests on one process (one throwaway cluster).
test: venv messages
	$(VPY) -m pytest $(if $(filter-out 0,$(JOBS)),-n $(JOBS) --dist loadgroup) $(PYTEST_ARGS)

bench: venv
	$(VPY) -m bench $(if $(SIZE),--size $(SIZE))

# Browser tests drive Debian's chromium rather than a Playwright-downloaded build.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then \
		echo "browser-deps: /usr/bin/chromium present"; \
	else \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

# ruff, then the import-linter contract in pyproject.toml (the apps import one way, docs/architecture.md).
lint: venv
	$(VPY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache

# What the Dockerfile does, without Docker: a runtime-only venv, DEBUG off, gunicorn + worker + beat
# on PostgreSQL and Redis (127.0.0.1), checked from outside over HTTP. See .ci/smoke.
smoke:
	bash .ci/smoke

# backups/saring-<time>.dump (PostgreSQL) or .sqlite3 (embedded default); FILE= names it yourself.
backup: venv
	$(DEV_ENV) $(VPY) manage.py backup $(FILE)

# Stop web, worker and beat first. Replaces the database's content with the backup's.
restore: venv
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/saring-....dump"; exit 2; }
	$(DEV_ENV) $(VPY) manage.py restore $(FILE)
	$(DEV_ENV) $(VPY) manage.py migrate --noinput

# Production-like settings with a throwaway 60-character key (token_urlsafe(45) is 60 chars).
check-deploy: venv
	key=$$($(VPY) -c 'import secrets; print(secrets.token_urlsafe(45))') && \
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY="$$key" DJANGO_ALLOWED_HOSTS=crm.example.com \
		$(VPY) manage.py check --deploy --fail-level WARNING

# The compose file demands DJANGO_SECRET_KEY (${VAR:?}); validation only needs a placeholder.
compose-check:
	DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-compose-check-placeholder}" $(COMPOSE) config -q

# Build and test output only: keeps .venv and db.sqlite3.
clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
	rm -rf .pytest_cache .hypothesis .ruff_cache .coverage htmlcov test-artifacts staticfiles
