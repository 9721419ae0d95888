"""The signed-in user's profile: who they are, their roles, and their API token."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from crm.audit import audit
from crm.roles import roles_of


@transaction.atomic
def token_regenerate(*, user) -> Token:
    """A new API token for the user; the previous one stops working at once."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    # The token's primary key is the secret itself: audit the user, never the key.
    audit(user, "change", user, action_detail="api_token_regenerated")
    return token


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        had_token = Token.objects.filter(user=request.user).exists()
        token_regenerate(user=request.user)
        messages.success(request, _("New API token created; the old one no longer works.") if had_token
                         else _("API token created."))
        return redirect("profile")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "account/profile.html", {
        "token": token,
        "user_roles": sorted(roles_of(request.user)),
        "api_base": request.build_absolute_uri("/api/"),
    })
