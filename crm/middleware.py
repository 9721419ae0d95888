"""Answer 503 with a message, not a traceback, while the database is unreachable; and the product's
own 404 page under DEBUG when CRM_FRIENDLY_404 is on (the demo)."""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("Database unavailable: %s", type(exception).__name__)
        message = _("The database is unavailable right now. Please retry in a moment.")
        if request.path.startswith("/api/"):
            response = JsonResponse({"error": "service_unavailable", "detail": message, "fields": {}}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "5"
        return response


class FriendlyNotFoundMiddleware:
    """Under DEBUG Django answers a 404 with its technical page (the URL patterns, the resolver's
    attempts): right for a developer, wrong for a demo that should look like the product. With
    CRM_FRIENDLY_404 (set by `make demo`) an HTML 404 is answered with templates/404.html, as with
    DEBUG off. API answers (JSON, from DRF's exception handler) are left as they are."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (response.status_code == 404 and settings.DEBUG and getattr(settings, "CRM_FRIENDLY_404", False)
                and not request.path.startswith("/api/") and not getattr(response, "streaming", False)
                and response.get("Content-Type", "").startswith("text/html")):
            from django.views.defaults import page_not_found

            return page_not_found(request, exception=None)
        return response
