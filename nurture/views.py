"""Nurture pages: the content library (marketers and admins write, everyone reads), sending from the
contact page, and the public links inside emails (tracked clicks, the open pixel, unsubscribe)."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.forms import add_service_errors
from contacts.models import Industry, Segment
from contacts.selectors import contacts_editable_by, contacts_visible_to
from crm import roles
from nurture import campaigns, links, rendering, sequences, services
from nurture.forms import MessageForm, SendForm, SequenceForm
from nurture.models import Campaign, Language, Message, MessageChannel, Purpose, Sequence
from nurture.selectors import library

WRITERS = (roles.ADMIN, roles.MARKETER)
# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@require_GET
@roles.role_required(*roles.ROLES)
def message_list(request: HttpRequest) -> HttpResponse:
    filters = {name: request.GET.get(name, "") for name in ("purpose", "channel", "industry", "language")}
    page = Paginator(library(**filters).order_by("purpose", "industry", "language", "name"), 50).get_page(request.GET.get("page"))
    return render(request, "nurture/message_list.html", {
        "page": page, "filters": filters, "purposes": Purpose.choices, "channels": MessageChannel.choices,
        "industries": Industry.choices, "languages": Language.choices, "can_write": roles.roles_of(request.user) & set(WRITERS),
    })


def _preview(request: HttpRequest, form: MessageForm) -> dict | None:
    """The message as one real contact would receive it (nothing is saved or sent)."""
    data = form.cleaned_data
    contacts = contacts_visible_to(request.user)
    contact = (contacts.filter(pk=data["preview_contact"]).first() if data.get("preview_contact")
               else contacts.order_by("-updated_at").first())
    if contact is None:
        return None
    values = {**services.message_values(contact), "unsubscribe_url": _("[unsubscribe link]")}
    return {"contact": contact, "subject": " ".join(rendering.render(data.get("subject", ""), values).split()),
            "text": rendering.render(data["body"], values)}


@require_http_methods(["GET", "POST"])
@roles.role_required(*WRITERS)
def message_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    message = get_object_or_404(Message, pk=pk, is_archived=False) if pk else None
    form = MessageForm(request.POST or None, instance=message)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            problems = services.message_problems(channel=form.cleaned_data["channel"],
                                                 subject=form.cleaned_data.get("subject", ""), body=form.cleaned_data["body"])
            if problems:
                add_service_errors(form, ValidationError(problems))
            else:
                preview = _preview(request, form)
        else:
            try:
                saved = services.message_save(data=form.cleaned_data, by=request.user, message=message)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Message saved."))
                return redirect("nurture:message_edit", pk=saved.pk)
    return render(request, "nurture/message_form.html", {"form": form, "message": message, "preview": preview},
                  status=400 if form.errors else 200)


@require_POST
@roles.role_required(*WRITERS)
def message_archive(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(Message, pk=pk, is_archived=False)
    try:
        services.message_archive(message=message, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("nurture:message_edit", pk=message.pk)
    messages.success(request, _("Message archived; what was sent with it stays on the contacts' pages."))
    return redirect("nurture:message_list")


@require_POST
@roles.role_required(*roles.ROLES)
def contact_send(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(contacts_visible_to(request.user), pk=pk)
    if not contacts_editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a message to send."))
    else:
        try:
            services.message_send(contact=contact, message=form.cleaned_data["message"], by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Message queued; it is sent in a moment."))
    return redirect("contacts:detail", pk=contact.pk)


@require_GET
@roles.role_required(*roles.ROLES)
def sequence_list(request: HttpRequest) -> HttpResponse:
    rows = (Sequence.objects.prefetch_related("steps__message")
            .annotate(active=Count("enrollments", filter=Q(enrollments__status="active"))).order_by("trigger_stage", "name"))
    return render(request, "nurture/sequence_list.html", {
        "sequences": rows, "can_write": roles.roles_of(request.user) & set(WRITERS)})


@require_http_methods(["GET", "POST"])
@roles.role_required(*WRITERS)
def sequence_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    sequence = get_object_or_404(Sequence, pk=pk) if pk else None
    form = SequenceForm(request.POST or None, sequence=sequence)
    if request.method == "POST" and form.is_valid():
        try:
            saved = sequences.sequence_save(data={k: form.cleaned_data[k] for k in ("name", "trigger_stage", "industry", "segment", "from_email")},
                                            steps=form.steps(), by=request.user, sequence=sequence)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                # "steps.1.message" -> the second row's message field
                parts = field.split(".")
                name = f"{'wait' if parts[-1] == 'wait_days' else 'message'}_{parts[1]}" if len(parts) == 3 else field
                form.add_error(name if name in form.fields else None, errors)
        else:
            messages.success(request, _("Sequence saved; it applies to contacts who enter the stage from now on."))
            return redirect("nurture:sequence_edit", pk=saved.pk)
    return render(request, "nurture/sequence_form.html", {"form": form, "sequence": sequence},
                  status=400 if form.errors else 200)


@require_POST
@roles.role_required(*WRITERS)
def sequence_pause(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = get_object_or_404(Sequence, pk=pk)
    sequences.sequence_pause(sequence=sequence, paused=not sequence.is_paused, by=request.user)
    messages.success(request, _("Sequence paused.") if not sequence.is_paused else _("Sequence resumed."))
    return redirect("nurture:sequence_list")


@require_GET
@roles.role_required(*roles.ROLES)
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(Campaign.objects.select_related("message").order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    return render(request, "nurture/campaign_list.html", {
        "page": page, "can_write": roles.roles_of(request.user) & set(WRITERS),
        "messages_": Message.objects.filter(is_archived=False, channel=MessageChannel.EMAIL).order_by("purpose", "name"),
        "segments": Segment.objects.order_by("name")})


@require_POST
@roles.role_required(*WRITERS)
def campaign_new(request: HttpRequest) -> HttpResponse:
    message = Message.objects.filter(pk=request.POST.get("message") or 0, is_archived=False).first()
    segment = Segment.objects.filter(pk=request.POST.get("segment") or 0).first()
    if message is None or segment is None:
        messages.error(request, _("Choose a message and a segment."))
        return redirect("nurture:campaign_list")
    try:
        campaign = campaigns.campaign_create(message=message, segment=segment, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("nurture:campaign_list")
    return redirect("nurture:campaign_detail", pk=campaign.pk)


def _progress(campaign: Campaign) -> dict:
    report = campaigns.campaign_report(campaign)
    done = report["total"] - report["waiting"]
    running = campaign.status == Campaign.Status.SENDING
    return {**report, "running": running, "done": done,
            "percent": 100 if not running else int(100 * done / report["total"]) if report["total"] else 0}


@require_GET
@roles.role_required(*roles.ROLES)
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("message", "segment"), pk=pk)
    preview = campaigns.campaign_preview(campaign=campaign, user=request.user) if campaign.status == Campaign.Status.DRAFT else None
    progress = _progress(campaign)
    return render(request, "nurture/campaign_detail.html", {
        "campaign": campaign, "preview": preview, "progress": progress, "width": f"w-{progress['percent'] - progress['percent'] % 5}",
        "skipped": [(_REASON_LABELS[code], (preview.skipped if preview else campaign.skipped).get(code, 0))
                    for code in campaigns.guardrails.REASONS],
        "can_write": roles.roles_of(request.user) & set(WRITERS)})


_REASON_LABELS = {"do_not_contact": gettext_lazy("asked not to be contacted"),
                  "stage": gettext_lazy("stage does not fit the purpose"),
                  "consent": gettext_lazy("no consent for the channel"), "address": gettext_lazy("no address")}


@require_GET
@roles.role_required(*roles.ROLES)
def campaign_status(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(_progress(get_object_or_404(Campaign, pk=pk)))


@require_POST
@roles.role_required(*WRITERS)
def campaign_send(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        campaigns.campaign_send(campaign=campaign, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Sending. Progress and results show here."))
    return redirect("nurture:campaign_detail", pk=campaign.pk)


# --- Links inside emails: public, signed --------------------------------------------------

@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    followed = links.read_click(token)
    if followed is None or not followed.url.startswith(("http://", "https://")):
        raise Http404
    services.delivery_clicked(delivery_id=followed.delivery_id, url=followed.url)
    return HttpResponseRedirect(followed.url)


@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    delivery_id = links.read_delivery(token, links.OPEN)
    if delivery_id is not None:
        services.delivery_opened(delivery_id=delivery_id)
    response = HttpResponse(PIXEL, content_type="image/gif")
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" without a session; the token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    delivery_id = links.read_delivery(token, links.UNSUBSCRIBE)
    if delivery_id is None:
        raise Http404
    done = request.method == "POST" and services.delivery_unsubscribe(delivery_id=delivery_id)
    # GET only asks: link scanners in mail gateways open every link, and must not unsubscribe anyone.
    return render(request, "nurture/unsubscribe.html", {"done": done, "token": token})


