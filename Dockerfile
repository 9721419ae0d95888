# Saring web/worker/beat image: one image, the command picks the role (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# gettext: msgfmt for compilemessages.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gettext \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 --user-group app

WORKDIR /app

# Requirements first so code changes reuse the dependency layer.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Build-time only: production settings refuse to load without a secret key, so these
# dummy values exist for this one step and never reach the image's runtime environment.
RUN DJANGO_SECRET_KEY=build-only-dummy-key-not-used-at-runtime-0123456789abcdef \
    DJANGO_DEBUG=0 \
    DJANGO_ALLOWED_HOSTS='*' \
    bin/saring build

# Code and static files stay root-owned: the app process cannot modify them.
USER app

# bin/saring is the one entry point, shared with docker-compose.yml and CI's production smoke test.
# A deployed image is never in debug mode, whatever the environment forgets to say.
ENV DJANGO_DEBUG=0
EXPOSE 8000
CMD ["bin/saring", "web"]
