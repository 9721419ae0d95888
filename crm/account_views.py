"""The signed-in user's profile: who they are, their roles, and their API token."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from crm.roles import roles_of
from crm.tokens import token_expired, token_expires_at, token_regenerate


@never_cache  # Cache-Control: no-store (and friends): the answer to a POST holds the new token
@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        had_token = Token.objects.filter(user=request.user).exists()
        token = token_regenerate(user=request.user)
        # Shown in this answer only: it is never on the page again (nor in the session).
        new_key = token.key
        messages.success(request, _("New API token created; the old one no longer works.") if had_token
                         else _("API token created."))
    else:
        token = Token.objects.filter(user=request.user).first()
    return render(request, "account/profile.html", {
        "token": token,
        "new_key": new_key,
        "token_expires": token_expires_at(token) if token else None,
        "token_expired": token_expired(token) if token else False,
        "user_roles": sorted(roles_of(request.user)),
        "api_base": request.build_absolute_uri("/api/"),
    })
