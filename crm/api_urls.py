"""REST API under /api/ (DRF). See contacts/api/ and scoring/api.py; docs/api.md has curl examples."""

from functools import wraps

from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission

from crm.api_common import api_not_found


class ApiDocsAccess(BasePermission):
    """The schema needs a login (token or session) unless CRM_PUBLIC_API_DOCS opens it."""

    def has_permission(self, request, view) -> bool:
        return settings.CRM_PUBLIC_API_DOCS or bool(request.user and request.user.is_authenticated)


def docs_login_required(view):
    """The Swagger page (and its script) redirect to the login page, unless CRM_PUBLIC_API_DOCS."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.CRM_PUBLIC_API_DOCS and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


# Swagger UI comes from the sidecar package (no CDN); the split view serves its init script
# as a file so script-src 'self' holds. Only the page's small inline <style> needs an exception.
swagger_ui = docs_login_required(csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema", permission_classes=[ApiDocsAccess])))

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]), name="api-schema"),
    path("docs/", swagger_ui, name="api-docs"),
    path("", include("contacts.api.urls")),
    path("", include("scoring.api")),
    path("", include("nurture.api")),
    path("", include("followup.api")),
    path("", include("webhooks.api")),
    # Anything else under /api/ is a 404 in the API's JSON error shape.
    re_path(r"^", api_not_found),
]
