"""REST API under /api/ (DRF). See contacts/api/ and scoring/api.py; docs/api.md has curl examples."""

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm.api_common import api_not_found

# Swagger UI comes from the sidecar package (no CDN); the split view serves its init script
# as a file so script-src 'self' holds. Only the page's small inline <style> needs an exception.
swagger_ui = csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", swagger_ui, name="api-docs"),
    path("", include("contacts.api.urls")),
    path("", include("scoring.api")),
    # Anything else under /api/ is a 404 in the API's JSON error shape.
    re_path(r"^", api_not_found),
]
