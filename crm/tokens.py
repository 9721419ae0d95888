"""API tokens: DRF's Token (what `manage.py drf_create_token USER` makes), with an expiry.

A token works for CRM_API_TOKEN_DAYS days after it was created (0: no expiry); after that
it fails with a message that says so. The profile page creates or rotates a token and shows
it once, in the answer to that POST; afterwards only its creation and expiry dates are shown.

Each request with a token used to cost two queries (the token with its user, then the user's
roles). The answer is cached (Redis: shared by every process) for CRM_TOKEN_CACHE_SECONDS under
a hash of the key, never the key itself, and without the password hash. Every way a token stops
working through the models replaces that entry at once, and again at commit, with a mark that keeps
it out of the cache for one lifetime (crm.apps connects the signals): the token deleted or rotated,
its user saved (deactivated) or deleted, the user's groups changed. So a request that read the
token just before the change cannot put the old answer back.
The expiry date is checked on every request, cached or not. A bulk QuerySet.update() of users
sends no signal: the cache lifetime bounds how long such a change takes to reach tokens."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from crm import roles
from crm.audit import audit

# What a cached token keeps of its user: enough for permissions and audit rows; any other field
# (deferred) loads from the database if some code reads it. Never the password hash.
CACHED_USER_FIELDS = ("id", "username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser")


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


def _cache_key(key: str) -> str:
    return "crm:token:" + hashlib.sha256(key.encode()).hexdigest()


# Written over an entry when its token or user changes, for one cache lifetime: a request that read
# the token before the change (or before its transaction committed) must not cache that answer
# afterwards, and _remember only adds where nothing is.
FORGOTTEN = "forgotten"


def token_cache_forget(keys) -> None:
    """Drop the cached answers for these token keys (a token revoked, its user changed): now,
    and again when the change commits (a read in between saw the old row)."""
    seconds = settings.CRM_TOKEN_CACHE_SECONDS
    marks = {_cache_key(k): FORGOTTEN for k in keys if k}
    if marks and seconds > 0:
        cache.set_many(marks, seconds)
        transaction.on_commit(lambda: cache.set_many(marks, seconds))


def _cached(key: str):
    """(user, token) from the cache, rebuilt without a query, or None."""
    entry = cache.get(_cache_key(key))
    if not entry or entry == FORGOTTEN:
        return None
    values, created, user_roles = entry
    User = get_user_model()
    user = User.from_db("default", CACHED_USER_FIELDS, values)
    user._crm_roles = user_roles
    return user, Token(key=key, user_id=user.pk, created=created)


def _remember(key: str, user, token: Token) -> None:
    entry = (tuple(getattr(user, f) for f in CACHED_USER_FIELDS), token.created, roles.roles_of(user))
    cache.add(_cache_key(key), entry, settings.CRM_TOKEN_CACHE_SECONDS)  # never over a FORGOTTEN mark


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused once the token is older than CRM_API_TOKEN_DAYS."""

    def authenticate_credentials(self, key):
        found = _cached(key) if settings.CRM_TOKEN_CACHE_SECONDS > 0 else None
        if found is None:
            user, token = super().authenticate_credentials(key)  # refuses unknown keys and inactive users
            if settings.CRM_TOKEN_CACHE_SECONDS > 0:
                _remember(key, user, token)
        else:
            user, token = found  # only active users are cached; saving a user drops its entry
        if token_expired(token):
            expires = timezone.localtime(token_expires_at(token))
            raise exceptions.AuthenticationFailed(
                _("This API token expired on %(date)s; create a new one on your profile page.")
                % {"date": formats.date_format(expires, "DATE_FORMAT")})
        return user, token


# --- Keeping the cache honest (connected in crm.apps) ---------------------------------------

def _forget_token(sender, instance, created=False, **kwargs) -> None:
    if not created:  # a new key has no answer cached anywhere
        token_cache_forget([instance.key])


def _forget_users(user_ids) -> None:
    token_cache_forget(Token.objects.filter(user_id__in=list(user_ids)).values_list("key", flat=True))


def _forget_user(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields and set(update_fields) <= {"last_login"}:
        return  # a login (Django's update_last_login) changes nothing a token's answer holds
    _forget_users([instance.pk])


def _forget_group_change(sender, instance, action, pk_set, reverse, **kwargs) -> None:
    """user.groups.add/remove/clear(): instance is the user; group.user_set...: pk_set are the users
    (for clear, the members before it)."""
    if not reverse and action in ("post_add", "post_remove", "post_clear"):
        _forget_users([instance.pk])
    elif reverse and action in ("post_add", "post_remove"):
        _forget_users(pk_set or [])
    elif reverse and action == "pre_clear":
        _forget_users(instance.user_set.values_list("pk", flat=True))


def _forget_group_members(sender, instance, **kwargs) -> None:
    _forget_users(instance.user_set.values_list("pk", flat=True))


def connect_token_cache_signals() -> None:
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

    User = get_user_model()
    post_save.connect(_forget_token, sender=Token, dispatch_uid="crm-token-cache-token-save")
    post_delete.connect(_forget_token, sender=Token, dispatch_uid="crm-token-cache-token-delete")
    post_save.connect(_forget_user, sender=User, dispatch_uid="crm-token-cache-user-save")
    m2m_changed.connect(_forget_group_change, sender=User.groups.through, dispatch_uid="crm-token-cache-groups")
    pre_delete.connect(_forget_group_members, sender=Group, dispatch_uid="crm-token-cache-group-delete")
