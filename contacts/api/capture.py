"""POST /api/capture/: the landing-page form endpoint.

A landing page on another site posts its form here with the form's public key (a
CaptureForm), or an integration posts with an API token. The contact is upserted by
email or phone (a keyed post only fills blanks unless its form opts in; blanks never
erase), `form_submitted` is logged with the form's other fields, consent checkboxes are stored with evidence, and
the contact is rescored once, after commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponseRedirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as H
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api.serializers import CONTACT_HELP
from contacts.capture import Captured, capture_submit
from contacts.models import CaptureForm, Industry
from contacts.selectors import contacts_visible_to
from crm import roles
from crm.api_common import CaptureRateThrottle, FormParser, JSONParser, MultiPartParser, no_nul
from crm.api_strict import DeclaredRules
from crm.throttles import UserRateThrottle
from crm.tokens import ExpiringTokenAuthentication

# Never stored with the submission.
IGNORED_KEYS = frozenset({"form_key", "csrfmiddlewaretoken"})
MAX_EXTRA_FIELDS = 50
MAX_EXTRA_KEY = 100
MAX_EXTRA_VALUE = 2000
FORM_KEY_HEADER = "X-Form-Key"


class CaptureSerializer(DeclaredRules, serializers.Serializer):
    """The fields a landing-page form may send; any other field is kept in the interaction's data."""

    form_key = serializers.CharField(required=False, max_length=64, help_text=H(
        "The capture form's public key (or send it in the X-Form-Key header). Not needed with an API token."))
    full_name = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=CONTACT_HELP["full_name"])
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=H("Alias of full_name."))
    email = serializers.CharField(required=False, allow_blank=True, max_length=254, help_text=CONTACT_HELP["email"])
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text=CONTACT_HELP["phone"])
    company = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=CONTACT_HELP["company"])
    job_title = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=CONTACT_HELP["job_title"])
    city = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=CONTACT_HELP["city"])
    industry = serializers.ChoiceField(choices=Industry.choices, required=False, allow_blank=True, help_text=H(
        "Industry; default: the form's industry."))
    source = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=H(
        "Where the contact came from (fills a blank source); default: the form's source, else “capture”."))
    utm_source = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=CONTACT_HELP["utm_source"])
    utm_medium = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=CONTACT_HELP["utm_medium"])
    utm_campaign = serializers.CharField(required=False, allow_blank=True, max_length=150, help_text=CONTACT_HELP["utm_campaign"])
    consent_email = serializers.BooleanField(required=False, help_text=H(
        "Email opt-in checkbox (true, on, 1, yes). A ticked box is stored with evidence; an unticked one changes nothing."))
    consent_whatsapp = serializers.BooleanField(required=False, help_text=H("WhatsApp opt-in checkbox, as consent_email."))
    consent_sms = serializers.BooleanField(required=False, help_text=H("SMS opt-in checkbox, as consent_email."))
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text=H(
        "A submission id: a retry with the same id to the same form returns the first result and writes nothing. "
        "Ids live in the form's own key space (source “form:<form id>”), apart from every integration's."))

    required_any_of = ("email", "phone")

    def validate(self, attrs: dict) -> dict:
        if not (attrs.get("email") or attrs.get("phone")):
            raise serializers.ValidationError({"email": [_("Give an email or a phone number.")]})
        return attrs


class CaptureResultSerializer(serializers.Serializer):
    contact = serializers.IntegerField(allow_null=True, help_text=H(
        "Id of the contact created or updated; null on a replay the caller may not read (see replayed)."))
    created = serializers.BooleanField(help_text=H("True when the contact is new, false when an existing one was updated."))
    interaction = serializers.IntegerField(allow_null=True, help_text=H(
        "Id of the form_submitted interaction; null on a replay the caller may not read (see replayed)."))
    replayed = serializers.BooleanField(help_text=H(
        "True when this was a retry of a recorded submission (same external_id): nothing was written. An anonymous "
        "(form key) caller then gets contact and interaction as null, since the first submission may have been "
        "someone else's; a token caller who may read the contact gets its ids."))


def capture_answer(captured: Captured, *, by=None) -> dict[str, Any]:
    """The JSON answer. A replay names the contact and interaction only to a caller who may
    read that contact: two visitors of one form who send the same external_id share a key,
    and the second must not learn the first one's ids."""
    hidden = captured.replayed and (by is None or not contacts_visible_to(by).filter(pk=captured.contact.pk).exists())
    return {"contact": None if hidden else captured.contact.pk, "created": captured.created,
            "interaction": None if hidden else captured.interaction.pk, "replayed": captured.replayed}


def _extra_fields(raw: Any) -> dict[str, Any]:
    """The form's fields that are not contact fields, for the interaction's data."""
    known = set(CaptureSerializer().fields) | IGNORED_KEYS
    if not isinstance(raw, Mapping):
        return {}
    getlist = getattr(raw, "getlist", None)
    extra: dict[str, Any] = {}
    for key in raw:
        if key in known:
            continue
        values = getlist(key) if getlist else [raw[key]]
        extra[str(key)] = values[0] if len(values) == 1 else values
    errors: dict[str, list[str]] = {}
    for key, value in extra.items():
        if any(isinstance(item, UploadedFile) for item in (value if isinstance(value, list) else [value])):
            errors[key] = [_("Files are not accepted.")]
    if errors:
        raise exceptions.ValidationError(errors)
    if len(extra) > MAX_EXTRA_FIELDS:
        errors["non_field_errors"] = [_("At most %(n)d extra fields.") % {"n": MAX_EXTRA_FIELDS}]
    for key, value in extra.items():
        if len(key) > MAX_EXTRA_KEY or len(str(value)) > MAX_EXTRA_VALUE:
            errors[key[:MAX_EXTRA_KEY]] = [_("Too long.")]
        else:
            try:
                no_nul([key, value])
            except serializers.ValidationError as exc:
                errors[key] = exc.detail
    if errors:
        raise exceptions.ValidationError(errors)
    return extra


def _origin_allowed(origin: str, allowed: Any) -> bool:
    wanted = origin.strip().rstrip("/").lower()
    return isinstance(allowed, list) and any(str(item).strip().rstrip("/").lower() == wanted for item in allowed)


class CapturePermission(BasePermission):
    """Token callers need a role that imports contacts; keyed (anonymous) posts are checked by the view."""

    message = H("Your role may not capture contacts.")

    def has_permission(self, request, view) -> bool:
        if request.user and request.user.is_authenticated:
            return bool(roles.roles_of(request.user) & {roles.ADMIN, roles.MARKETER})
        return True


CAPTURE_DESCRIPTION = """
The landing-page form endpoint. Send JSON or an ordinary HTML form post
(`application/x-www-form-urlencoded`).

**Who may post:** a form's public key (`form_key` field or `X-Form-Key` header; the form must be active, and a browser's
`Origin` must be in the form's allowed origins; requests without an `Origin` header, i.e. servers, are accepted), or an
API token of an admin or marketer. Keyed posts are rate-limited per client address (counted before the body is read,
so a malformed body counts too).

**What happens:** the contact is found by email or phone or created. A keyed (anonymous) post only fills the
existing contact's empty fields, unless the form is set to overwrite them; what the visitor typed is kept with the
submission (`data.submitted`) either way. Token callers update non-empty fields too. Blanks never erase anything,
and an existing email or phone is never replaced.
`form_submitted` is logged with every other field of the form in its data, ticked consent boxes are set on the contact
and recorded with the form's consent wording version, and the contact is rescored (which can make it a lead).
`external_id` makes a retried submission a no-op (`"replayed": true`; to an anonymous caller, or a token caller who
cannot read the contact, with `contact` and `interaction` null: two visitors who send the same id share the key). Submissions live in their form's own key space (the interaction's
source is `form:<form id>`, or `capture:user:<id>` for a token caller without a form key), so a visitor can never
claim an integration's `(source, external_id)`.

**Answer:** JSON (`201` new contact, `200` existing contact). A plain HTML form post (`Accept: text/html` without JSON)
of a form with a thank-you URL is answered with a `303` redirect there.
"""


@extend_schema(
    summary="Capture a landing-page form submission",
    description=CAPTURE_DESCRIPTION,
    request={"application/json": CaptureSerializer, "application/x-www-form-urlencoded": CaptureSerializer,
             "multipart/form-data": CaptureSerializer},
    parameters=[OpenApiParameter(FORM_KEY_HEADER, str, OpenApiParameter.HEADER, required=False,
                                 description=H("The capture form's public key (instead of the form_key field)."))],
    responses={
        201: OpenApiResponse(CaptureResultSerializer, description="A new contact was created."),
        200: OpenApiResponse(CaptureResultSerializer, description="An existing contact was updated (or the submission was a retry)."),
        303: OpenApiResponse(description="Plain HTML form post: redirect to the form's thank-you URL."),
    },
    auth=[{"tokenAuth": []}, {}],
)
class CaptureView(APIView):
    # A landing page on another origin posts here without a CSRF token: the endpoint is
    # csrf_exempt (APIView.as_view) and does not take session cookies at all, so a
    # logged-in browser cannot be tricked into acting with its session. A keyed post can
    # only add a submission (never read or change anything else), is limited to the
    # form's allowed origins for browsers, and is rate-limited per key and address.
    authentication_classes = [ExpiringTokenAuthentication]
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    permission_classes = [CapturePermission]
    throttle_classes = [UserRateThrottle, CaptureRateThrottle]

    @staticmethod
    def form_key(request: Request) -> str:
        data = request.data if isinstance(request.data, Mapping) else {}
        value = data.get("form_key") or request.headers.get(FORM_KEY_HEADER) or ""
        return value.strip() if isinstance(value, str) else ""

    def _form(self, request: Request) -> CaptureForm | None:
        key = self.form_key(request)
        if not key:
            if not request.user.is_authenticated:
                raise exceptions.NotAuthenticated(_("Send the form's public key (form_key) or an API token."))
            return None
        form = CaptureForm.objects.filter(public_key=key, is_active=True).first()
        if form is None:
            raise _forbidden("form_key", _("Unknown or inactive form key."))
        origin = request.headers.get("Origin")
        if not request.user.is_authenticated and origin is not None and not _origin_allowed(origin, form.allowed_origins):
            raise _forbidden("Origin", _("This form does not accept posts from %(origin)s.") % {"origin": origin[:200]})
        return form

    def post(self, request: Request) -> Response:
        form = self._form(request)
        serializer = CaptureSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        extra = _extra_fields(request.data)
        fields = {k: v for k, v in serializer.validated_data.items() if k != "form_key"}
        captured = capture_submit(form=form, fields=fields, extra=extra, by=request.user if request.user.is_authenticated else None)
        if form and form.thank_you_url and _wants_html(request):
            response = HttpResponseRedirect(form.thank_you_url, status=status.HTTP_303_SEE_OTHER)
        else:
            body = capture_answer(captured, by=request.user if request.user.is_authenticated else None)
            response = Response(body, status=status.HTTP_201_CREATED if captured.created else status.HTTP_200_OK)
        return _with_cors(response, request, form)

    def options(self, request: Request, *args, **kwargs) -> Response:
        """CORS preflight for fetch() from a landing page: allowed when some active form lists the origin."""
        response = Response(status=status.HTTP_204_NO_CONTENT)
        origin = request.headers.get("Origin")
        if origin and any(_origin_allowed(origin, allowed) for allowed in
                          CaptureForm.objects.filter(is_active=True).values_list("allowed_origins", flat=True)):
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response["Access-Control-Allow-Headers"] = f"Content-Type, {FORM_KEY_HEADER}"
            response["Access-Control-Max-Age"] = "3600"
        response["Vary"] = "Origin"
        return response


def _forbidden(field: str, message: str) -> exceptions.PermissionDenied:
    exc = exceptions.PermissionDenied(message)
    exc.fields = {field: [message]}
    return exc


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "json" not in accept


def _with_cors(response, request: Request, form: CaptureForm | None):
    origin = request.headers.get("Origin")
    if form and origin and _origin_allowed(origin, form.allowed_origins):
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    return response
