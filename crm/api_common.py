"""What every endpoint under /api/ shares: the one error shape, role permissions,
pagination (page numbers, or a cursor for exports), throttles, body-size limits and
the OpenAPI schema class that documents all of it.

Error shape (every 4xx/5xx answered by the API, the 503 of crm.middleware included):

    {"error": "validation_error", "detail": "kind: Unknown interaction kind.", "fields": {"kind": ["..."]}}

`error` is a stable machine code, `detail` a sentence for people, `fields` maps a field
path to its messages ("kind", "rules.2.points", or "3.kind" for item 3 of a list body)
and is empty when no field is to blame.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.encoding import force_str
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, parsers, serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from crm import roles
from crm.api_strict import StrictInputSerializer, StrictQuerySerializer  # noqa: F401 - re-exported
from crm.net import client_ip
from crm.throttles import WindowCounterMixin

log = logging.getLogger(__name__)

ALL_ROLES = frozenset(roles.ROLES)


# --- Errors ----------------------------------------------------------------------

class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is too large.")
    default_code = "request_too_large"


class Conflict(exceptions.APIException):
    """The request would create a second record for an identity that exists (e.g. an email)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("A record with this identity already exists.")
    default_code = "duplicate"

    def __init__(self, fields: Mapping[str, Any], detail: str | None = None):
        super().__init__(detail)
        self.fields = flatten_errors(fields)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as {"field.path": [messages]}: dict keys and list indexes joined with dots."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            out.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(detail, (list, tuple)):
        if all(not isinstance(item, (Mapping, list, tuple)) for item in detail):
            if detail:
                out[prefix or "non_field_errors"] = [force_str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    elif detail is not None:
        out[prefix or "non_field_errors"] = [force_str(detail)]
    return out


def django_validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {name: list(messages) for name, messages in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


def set_rollback() -> None:
    """Like DRF's: an error answered inside ATOMIC_REQUESTS must not commit half a request."""
    for connection in connections.all(initialized_only=True):
        if connection.settings_dict["ATOMIC_REQUESTS"] and connection.in_atomic_block:
            connection.set_rollback(True)


def error_body(code: str, detail: str, fields: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": code, "detail": detail, "fields": dict(fields or {})}


def _validation_summary(fields: Mapping[str, list[str]]) -> str:
    if not fields:
        return _("Invalid input.")
    name, messages = next(iter(fields.items()))
    first = f"{name}: {messages[0]}" if name != "non_field_errors" else messages[0]
    more = len(fields) - 1
    return first if not more else _("%(first)s (and %(n)d more)") % {"first": first, "n": more}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every error in the one shape above."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return None  # crm.middleware answers 503 (same shape) while the database is down
    if isinstance(exc, RequestDataTooBig):
        # DRF reads JSON and form bodies through request.body, where Django enforces
        # DATA_UPLOAD_MAX_MEMORY_SIZE; the parsers below cover bodies without a length.
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(_("Malformed request."))
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_validation_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        log.exception("API error in %s", type(view).__name__ if view else "?", exc_info=exc)
        set_rollback()
        return Response(
            error_body("server_error", _("Something went wrong on our side; it has been logged. Please retry later.")),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = "%d" % exc.wait
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        body = error_body("validation_error", _validation_summary(fields), fields)
    else:
        code = exc.detail.code if isinstance(getattr(exc, "detail", None), exceptions.ErrorDetail) else exc.default_code
        body = error_body(code or exc.default_code, force_str(exc.detail), getattr(exc, "fields", None))
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


@csrf_exempt  # it only ever answers 404; a CSRF failure page (HTML) would break the one error shape
def api_not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Unknown paths under /api/ answer in the API's shape, not with the HTML 404 page."""
    return JsonResponse(error_body("not_found", _("No API endpoint at this address.")), status=404)


ERROR_FIELD_HELP = {
    "error": gettext_lazy(
        "Stable machine-readable code: validation_error, duplicate, parse_error, not_authenticated, authentication_failed, "
        "permission_denied, not_found, method_not_allowed, unsupported_media_type, request_too_large, throttled, "
        "server_error, service_unavailable."),
    "detail": gettext_lazy("What went wrong, for people."),
    "fields": gettext_lazy('Messages per field path ("email", "rules.2.points", "3.kind" for item 3 of a list); '
                           "empty when no field is to blame."),
}


# --- Content ------------------------------------------------------------------------

class JSONFallbackNegotiation(DefaultContentNegotiation):
    """Answer JSON even when the client asks for something else (a browser's text/html),
    instead of a 406 in no particular shape."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type


class _BodyLimit:
    """Refuse bodies over settings.DATA_UPLOAD_MAX_MEMORY_SIZE with a 413 before parsing.

    Django applies that limit to request.POST only; DRF parsers read the raw stream,
    so JSON bodies need this check."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and stream is not None:
            request = (parser_context or {}).get("request")
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestTooLarge()
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLarge()
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)


# Deeper JSON than any of our bodies needs is refused while parsing: deep nesting otherwise
# exhausts the interpreter's recursion limit somewhere later (a 500).
MAX_JSON_DEPTH = 32


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when no list or object in `value` is nested more than `limit` levels (iterative)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


class JSONParser(_BodyLimit, parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_("JSON nested more than %(n)d levels deep.") % {"n": MAX_JSON_DEPTH}) from exc
        if not json_depth_ok(data):
            raise exceptions.ParseError(_("JSON nested more than %(n)d levels deep.") % {"n": MAX_JSON_DEPTH})
        return data


class FormParser(_BodyLimit, parsers.FormParser):
    pass


class MultiPartParser(parsers.MultiPartParser):
    """HTML forms sent as multipart/form-data. Django's parser needs the live stream, so
    only the declared Content-Length is checked here; Django itself caps the non-file
    fields at DATA_UPLOAD_MAX_MEMORY_SIZE."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        if limit is not None and declared > limit:
            raise RequestTooLarge()
        try:
            return super().parse(stream, media_type, parser_context)
        except RequestDataTooBig as exc:
            raise RequestTooLarge() from exc


# --- Permissions ----------------------------------------------------------------------

class RolePermission(BasePermission):
    """Roles per operation: a view sets `role_rules = {"list": ALL_ROLES, "create": {...}}`,
    keyed by viewset action or lowercased HTTP method ("action:method" when one action
    answers several methods), with "*" as the default. Any role may ask OPTIONS.

    Object scoping (a rep's own contacts) is the queryset's job, so another rep's
    contact is a 404, never a 403 that would confirm it exists."""

    message = gettext_lazy("Your role does not allow this.")

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        user_roles = roles.roles_of(request.user)
        if request.method == "OPTIONS":
            return bool(user_roles)
        rules: Mapping[str, Iterable[str]] = getattr(view, "role_rules", {})
        method = "get" if request.method == "HEAD" else request.method.lower()
        if method not in view.http_method_names or getattr(view, method, None) is None:
            return bool(user_roles)  # no such operation: let the view answer 405

        action = getattr(view, "action", None) or method
        # Most specific first: "draft:patch", then "draft", then the default "*".
        allowed = rules.get(f"{action}:{method}", rules.get(action, rules.get("*", ())))
        return bool(user_roles & set(allowed))


# --- Pagination -----------------------------------------------------------------------

class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    page_size_query_description = gettext_lazy("Results per page (at most 500).")
    page_query_description = gettext_lazy("Page number, from 1 (page-number mode).")
    max_page_size = 500


class IdCursorPagination(CursorPagination):
    """Stable under concurrent inserts and cheap at any depth: the export mode."""

    ordering = "id"
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 1000


def _whole_number_in(text: str, low: int, high: int | None) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 1000 and int(text) >= low and (high is None or int(text) <= high)


class FlexiblePagination(BasePagination):
    """Page numbers by default; `?paginate=cursor` (or any `cursor=` value) switches to a
    cursor ordered by id for exports. In cursor mode `ordering` is ignored, `count` is
    absent and `page_size` may go up to 1,000; follow `next` until it is null."""

    def _choose(self, request) -> BasePagination:
        if request.query_params.get("paginate") == "cursor" or "cursor" in request.query_params:
            return IdCursorPagination()
        return PagePagination()

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        if params.get("paginate") not in (None, "page", "cursor"):
            raise exceptions.ValidationError({"paginate": [_("Use “page” or “cursor”.")]})
        # As strict as the schema: DRF would ignore a bad page_size and read a bad page as a 404.
        # Page mode caps page_size at 500 (documented); the schema's maximum, 1,000, is cursor mode's.
        for name, top in (("page", None), ("page_size", IdCursorPagination.max_page_size)):  # a page past the end: 404
            if name in params and not _whole_number_in(params[name], 1, top):
                raise exceptions.ValidationError({name: [
                    _("Give a whole number from 1 to %(max)d.") % {"max": top} if top else _("Give a whole number from 1.")]})
        self.delegate = self._choose(request)
        return self.delegate.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        return self.delegate.get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "description": str(gettext_lazy("Total matches (page-number mode only)."))},
                "next": {"type": "string", "nullable": True, "format": "uri",
                         "description": str(gettext_lazy("URL of the next page, null on the last."))},
                "previous": {"type": "string", "nullable": True, "format": "uri",
                             "description": str(gettext_lazy("URL of the previous page, null on the first."))},
                "results": {**schema, "description": str(gettext_lazy("This page's items."))},
            },
        }

    def get_schema_operation_parameters(self, view):
        text = lambda s: str(s)  # noqa: E731 - lazy strings rendered once for the schema
        return [
            {"name": "paginate", "in": "query", "required": False,
             "description": text(gettext_lazy("“page” (default) or “cursor”: cursor mode pages by id, for large exports.")),
             "schema": {"type": "string", "enum": ["page", "cursor"]}},
            {"name": "page", "in": "query", "required": False, "description": text(PagePagination.page_query_description),
             "schema": {"type": "integer", "minimum": 1}},
            {"name": "page_size", "in": "query", "required": False,
             "description": text(gettext_lazy("Results per page: up to 500 (pages) or 1,000 (cursor).")),
             "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
            {"name": "cursor", "in": "query", "required": False,
             "description": text(gettext_lazy("Opaque cursor from a previous `next`/`previous` link (cursor mode).")),
             "schema": {"type": "string"}},
        ]


# --- Throttles --------------------------------------------------------------------------

class CaptureRateThrottle(WindowCounterMixin, SimpleRateThrottle):
    """Landing-page posts (no token): per client address, rate "capture". Token holders are
    counted by the per-user throttle instead.

    The key never depends on the body: throttles run before it is parsed, so a body that
    fails to parse (or a made-up form key) is counted like any other post. The address is
    crm.net.client_ip's (the socket's unless CRM_NUM_PROXIES is set)."""

    scope = "capture"

    def get_ident(self, request) -> str:
        return client_ip(request)

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


# --- Schema ----------------------------------------------------------------------------

ERROR_STATUSES = {
    "400": gettext_lazy("Invalid input: `fields` names each offending field."),
    "401": gettext_lazy("No or invalid credentials (send `Authorization: Token <key>`)."),
    "403": gettext_lazy("Your role does not allow this."),
    "404": gettext_lazy("No such object (or not visible to you)."),
    "405": gettext_lazy("Method not allowed."),
    "413": gettext_lazy("Request body over the size limit."),
    "415": gettext_lazy("Unsupported content type."),
    "429": gettext_lazy("Too many requests; see Retry-After."),
    "500": gettext_lazy("Unexpected server error (logged)."),
    "503": gettext_lazy("The database is unavailable; retry shortly."),
}


WRITE_ERROR_STATUSES = {"409": gettext_lazy("Conflicts with an existing record (e.g. the email belongs to another contact).")}


def add_error_responses(result: dict, generator=None, request=None, public=None) -> dict:
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]: document the shared error shape and
    statuses on every operation (a hook, so this module never imports the schema
    generator: DRF imports this module while it is itself still loading)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = _error_schema()
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            statuses = {**ERROR_STATUSES, **(WRITE_ERROR_STATUSES if method in ("post", "put", "patch") else {})}
            for code, description in statuses.items():
                responses.setdefault(code, {"description": str(description), "content": {"application/json": {"schema": ref}}})
    return result


def _error_schema() -> dict:
    return {
        "type": "object",
        "description": str(gettext_lazy("The one error shape of the API.")),
        "required": ["error", "detail", "fields"],
        "properties": {
            "error": {"type": "string", "description": str(ERROR_FIELD_HELP["error"])},
            "detail": {"type": "string", "description": str(ERROR_FIELD_HELP["detail"])},
            "fields": {
                "type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": str(ERROR_FIELD_HELP["fields"]),
            },
        },
    }


# --- Input --------------------------------------------------------------------------------

def no_nul(value: Any) -> Any:
    """Refuse NUL characters anywhere in a JSON value: PostgreSQL cannot store them."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(_("Null characters are not allowed."))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            no_nul(key)
            no_nul(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            no_nul(item)
    return value
