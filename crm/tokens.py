"""API tokens: DRF's Token (what `manage.py drf_create_token USER` makes), with an expiry.

A token works for CRM_API_TOKEN_DAYS days after it was created (0: no expiry); after that
it fails with a message that says so. The profile page creates or rotates a token and shows
it once, in the answer to that POST; afterwards only its creation and expiry dates are shown."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from crm.audit import audit


def token_expires_at(token: Token) -> datetime | None:
    days = settings.CRM_API_TOKEN_DAYS
    return token.created + timedelta(days=days) if days and days > 0 else None


def token_expired(token: Token, now: datetime | None = None) -> bool:
    expires = token_expires_at(token)
    return expires is not None and (now or timezone.now()) >= expires


@transaction.atomic
def token_regenerate(*, user) -> Token:
    """A new API token for the user (rotation); the previous one stops working at once."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    # The token's primary key is the secret itself: audit the user, never the key.
    audit(user, "change", user, action_detail="api_token_regenerated")
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused once the token is older than CRM_API_TOKEN_DAYS."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            expires = timezone.localtime(token_expires_at(token))
            raise exceptions.AuthenticationFailed(
                _("This API token expired on %(date)s; create a new one on your profile page.")
                % {"date": formats.date_format(expires, "DATE_FORMAT")})
        return user, token
