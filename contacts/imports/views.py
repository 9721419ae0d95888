"""Import, export and duplicate pages. Thin: check the role, parse a form, call
contacts.imports / exporting / merge, render or redirect. Admins and marketers only."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import exporting, merge
from contacts.fields import types as custom_types
from contacts.imports.files import job_preview
from contacts.imports.forms import (
    ColumnFormSet,
    ExportForm,
    ImportOptionsForm,
    MergeForm,
    UploadForm,
    mapping_from_forms,
    mapping_initial,
)
from contacts.imports.guess import activity_proposals, guess_reason
from contacts.imports.mapping import mapping_normalise, saved_mappings
from contacts.imports.reports import error_report_rows, report_delimiter, warning_report_rows
from contacts.imports.run import import_parse_overdue, import_receive, import_requeue, import_start
from contacts.models import ContactMerge, ImportJob
from contacts.selectors import contacts_visible_to
from crm import roles
from crm.replica import replica_iter, replica_view

RECENT_IMPORTS = 20
# The list and the progress endpoint never load the file or the bad rows.
_LIGHT = ("content", "errors", "warnings", "header", "mapping", "options")


def import_export_required(view: Callable) -> Callable:
    """Login required, then crm.roles.can_import_export (admins and marketers); others get 403."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not roles.can_import_export(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _jobs():
    return ImportJob.objects.defer(*_LIGHT)


def _percent(job: ImportJob) -> int:
    if job.status == ImportJob.Status.DONE:
        return 100
    return min(100, int(job.rows_done * 100 / job.total_rows)) if job.total_rows else 0


def _progress(job: ImportJob) -> dict:
    return {
        "status": job.status, "status_label": str(job.get_status_display()),
        "running": job.status in (ImportJob.Status.PARSING, ImportJob.Status.QUEUED, ImportJob.Status.RUNNING),
        "percent": _percent(job), "total_rows": job.total_rows, "rows_done": job.rows_done,
        "created": job.created, "updated": job.updated, "skipped": job.skipped, "failed": job.failed,
        "warned": job.warned, "message": job.text,
    }


# --- Import -------------------------------------------------------------------------

@import_export_required
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # Stored at once; a worker reads it (import_parse) while the mapping page waits.
            job = import_receive(file_name=upload.name, content=upload.read(), by=request.user)
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("import_mapping", pk=job.pk)
    jobs = list(_jobs().select_related("created_by")[:RECENT_IMPORTS])
    for job in jobs:
        job.percent = _percent(job)
    return render(request, "contacts/io/import_upload.html", {"form": form, "jobs": jobs})


@import_export_required
@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.defer("errors", "warnings", "content"), pk=pk)  # the preview was stored when read
    if job.status == ImportJob.Status.PARSING and not import_parse_overdue(job):
        # A worker is still reading the file: wait (progress.js polls the status and reloads).
        return render(request, "contacts/io/import_parsing.html", {"job": job, "progress": _progress(job)})
    if job.status != ImportJob.Status.UPLOADED:
        return redirect("import_progress", pk=job.pk)
    header = list(job.header)
    saved = saved_mappings()
    chosen_name = request.POST.get("saved") or request.GET.get("saved", "")
    chosen = saved.get(chosen_name)
    initial_options, initial_columns = mapping_initial(header, chosen or job.mapping)
    if request.method == "POST":
        options = ImportOptionsForm(request.POST)
        formset = ColumnFormSet(request.POST, header=header)
        if options.is_valid() and formset.is_valid():
            columns = [f.cleaned_data for f in formset.forms if f.cleaned_data.get("column") in header]
            # Per-column "blank" words are not on the form: keep those of the mapping the form started from.
            mapping = mapping_from_forms(options.cleaned_data, columns, mapping_normalise(chosen or job.mapping, header),
                                         activity_values=_activity_values(request.POST, formset))
            try:
                import_start(job=job, mapping=mapping, by=request.user)
            except ValidationError as exc:
                _attach_errors(exc, options, formset)
            else:
                return redirect("import_progress", pk=job.pk)
    else:
        options = ImportOptionsForm(initial=initial_options)
        formset = ColumnFormSet(initial=initial_columns, header=header)
    preview = job_preview(job)
    guesses = _guesses(job, header, chosen or job.mapping)
    columns = [(form, [row[i] for row in preview], *guesses[i]) for i, form in enumerate(formset.forms)]
    # Each cell with its column's name: on a phone the preview's rows stack into cards labelled by the file's header.
    preview_rows = [[(header[i] if i < len(header) else "", cell) for i, cell in enumerate(row)] for row in preview]
    return render(request, "contacts/io/import_mapping.html", {
        "job": job, "options": options, "formset": formset, "columns": columns, "preview": preview_rows, "header": header,
        "saved": sorted((name, m.get("name", name)) for name, m in saved.items()), "chosen": chosen_name if chosen else "",
        "file_format": _file_format(job), "count_cap": settings.CRM_IMPORT_COUNT_CAP,
    })


def _guesses(job: ImportJob, header: list[str], mapping: dict) -> list[tuple[str, list[tuple[int, str, int, str]]]]:
    """Per column: why it was guessed so (what its values look like), and for an activity column
    its distinct values with their count and the kind each maps to."""
    mapping = mapping_normalise(mapping, header)
    profiles = (job.options or {}).get("profiles") or {}
    out = []
    for name in header:
        spec, profile = mapping["columns"][name], profiles.get(name)
        values = []
        if spec["target"] == "activity" and profile:
            proposed = activity_proposals(profile)
            chosen = spec.get("values") or {}
            values = [(n, value, count, chosen.get(value, proposed.get(value, "")))
                      for n, (value, count) in enumerate(profile.get("top") or [])]
        out.append((guess_reason(name, profile, spec) if profile else "", values))
    return out


def _activity_values(post, formset) -> dict[str, dict[str, str]]:
    """The kinds chosen for an activity column's values: fields activity-<form>-<n>-value / activity-<form>-<n>."""
    chosen: dict[str, dict[str, str]] = {}
    for index, form in enumerate(formset.forms):
        column = form.cleaned_data.get("column")
        n = 0
        while (value := post.get(f"activity-{index}-{n}-value")) is not None:
            chosen.setdefault(column, {})[value] = post.get(f"activity-{index}-{n}", "")
            n += 1
    return chosen


def _file_format(job: ImportJob) -> str:
    if job.encoding == "xlsx":
        return _("Excel workbook (.xlsx), first sheet.")
    separator = {"\t": _("tabs"), ",": _("commas"), ";": _("semicolons"), "|": _("vertical bars")}.get(job.delimiter, job.delimiter)
    return _("CSV in %(encoding)s, separated by %(separator)s.") % {"encoding": job.encoding, "separator": separator}


def _attach_errors(exc: ValidationError, options: ImportOptionsForm, formset) -> None:
    """import_start names problems by column (or __all__): show each next to its column."""
    if not hasattr(exc, "error_dict"):
        for problem in exc.messages:
            options.add_error(None, problem)
        return
    by_column = {form.cleaned_data.get("column"): form for form in formset.forms}
    for where, problems in exc.message_dict.items():
        form = by_column.get(where)
        for problem in problems:
            if form is not None:
                form.add_error("target", problem)
            else:
                options.add_error(None, problem)


@import_export_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob.objects.defer("content", "errors", "header"), pk=pk)
    if job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.PARSING):
        return redirect("import_mapping", pk=job.pk)
    progress = _progress(job)
    return render(request, "contacts/io/import_progress.html", {
        "job": job, "progress": progress, "width": f"w-{progress['percent'] - progress['percent'] % 5}",
        "source": job.mapping.get("source", ""),
    })


@import_export_required
@require_POST
def import_restart(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(_jobs(), pk=pk)
    if import_requeue(job=job):
        messages.info(request, _("The import was queued again."))
    return redirect("import_progress", pk=job.pk)


@import_export_required
@require_GET
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    job = get_object_or_404(_jobs(), pk=pk)
    return JsonResponse(_progress(job))


@import_export_required
@require_GET
def import_errors(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = get_object_or_404(ImportJob.objects.defer("content", "mapping", "warnings"), pk=pk)
    response = StreamingHttpResponse(exporting.csv_stream(error_report_rows(job), delimiter=report_delimiter(job)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{Path(job.file_name).stem[:80]}-errors.csv")
    return response


@import_export_required
@require_GET
def import_warnings(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The cells left out of imported rows: row, column, value, reason."""
    job = get_object_or_404(ImportJob.objects.only("file_name", "warnings", "delimiter"), pk=pk)
    response = StreamingHttpResponse(exporting.csv_stream(warning_report_rows(job), delimiter=report_delimiter(job)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{Path(job.file_name).stem[:80]}-warnings.csv")
    return response


@import_export_required
@require_GET
def import_mapping_json(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's mapping as a file: reusable with `import_contacts FILE --mapping`."""
    job = get_object_or_404(ImportJob.objects.only("file_name", "header", "mapping"), pk=pk)
    body = json.dumps({"header": job.header, **job.mapping}, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, f"{Path(job.file_name).stem[:80]}-mapping.json")
    return response


# --- Export -------------------------------------------------------------------------

@import_export_required
@require_http_methods(["GET", "POST"])
@replica_view
def export(request: HttpRequest) -> HttpResponse:
    """GET: the /contacts/ list for the same query string. POST: the selected `ids`."""
    params = request.POST if request.method == "POST" else request.GET
    form = ExportForm(params)
    form.is_valid()
    fmt = form.cleaned_data.get("format") or "csv"
    campaign = form.cleaned_data.get("campaign") or ""
    style = form.cleaned_data.get("style") or "human"
    ids = None
    if request.method == "POST":
        ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
        if not ids:
            messages.warning(request, _("Select the contacts to export first."))
            back = request.POST.get("next", "")
            safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
            return redirect(back if safe and back else "contacts:list")
    # The list page's query string: numbers and dates as the reader typed them (see typed_filter_params).
    list_params, _errors = custom_types.typed_filter_params(request.GET)
    queryset, _count = exporting.contacts_export(user=request.user, params=list_params, ids=ids, campaign=campaign, fmt=fmt,
                                                 request=request)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    name = f"contacts-{campaign + '-' if campaign else ''}{'raw-' if style == 'raw' else ''}{stamp}"
    if fmt == "xlsx":
        response = HttpResponse(exporting.xlsx_bytes(exporting.export_rows(queryset, style=style)),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        return response
    response = StreamingHttpResponse(replica_iter(exporting.csv_stream(exporting.export_rows(queryset, style=style))),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


# --- Duplicates ------------------------------------------------------------------------

DUPLICATES_PER_PAGE = 50


@import_export_required
@require_GET
def duplicates(request: HttpRequest) -> HttpResponse:
    ranked = merge.duplicate_ids_ranked(queryset=contacts_visible_to(request.user))
    page = Paginator(ranked, DUPLICATES_PER_PAGE).get_page(request.GET.get("page"))
    pairs = merge.duplicate_pairs_load(list(page.object_list))
    return render(request, "contacts/io/duplicates.html", {"pairs": pairs, "page": page, "total": len(ranked)})


def _already_merged(request: HttpRequest, keep_id: int, merge_id: int) -> HttpResponse | None:
    """A second merge of a pair (double submit, back button): say what happened instead of merging again."""
    visible = contacts_visible_to(request.user)
    if visible.filter(pk=merge_id).exists():
        return None
    record = merge.merge_of(merge_id)
    if record is None or not visible.filter(pk=record.kept_id).exists():
        return None
    messages.info(request, _("Contact #%(merged)d was already merged into %(kept)s; nothing was merged again.") % {
        "merged": merge_id, "kept": record.kept.display_name})
    return redirect("contacts:detail", pk=record.kept_id)


@import_export_required
@require_GET
def merge_preview(request: HttpRequest, keep: int, other: int) -> HttpResponse:
    if (done := _already_merged(request, keep, other)) is not None:
        return done
    visible = contacts_visible_to(request.user).select_related("owner")
    kept, merged = get_object_or_404(visible, pk=keep), get_object_or_404(visible, pk=other)
    if kept.pk == merged.pk:
        messages.error(request, _("Choose two different contacts."))
        return redirect("duplicates")
    preview = merge.merge_preview(kept=kept, merged=merged)
    return render(request, "contacts/io/merge_preview.html", {"preview": preview, "undo_hours": settings.CRM_MERGE_UNDO_HOURS})


@import_export_required
@require_POST
def merge_view(request: HttpRequest) -> HttpResponse:
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("duplicates")
    keep_id, merge_id = form.cleaned_data["keep"], form.cleaned_data["merge"]
    if (done := _already_merged(request, keep_id, merge_id)) is not None:
        return done
    choices = {name[len("choice_"):]: value for name, value in request.POST.items() if name.startswith("choice_")}
    try:
        record = merge.merge_ids(keep_id=keep_id, merge_id=merge_id, queryset=contacts_visible_to(request.user),
                                 by=request.user, choices=choices)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("duplicates")
    messages.success(request, format_html(
        '{} <a href="{}">{}</a>',
        _("Merged #%(merged)d into %(kept)s; its interactions, notes and history moved over.") % {
            "merged": record.merged_contact_id, "kept": record.kept.display_name},
        reverse("merge_undo", args=[record.pk]),
        ngettext("Undo (possible for %(hours)d hour)", "Undo (possible for %(hours)d hours)",
                 settings.CRM_MERGE_UNDO_HOURS) % {"hours": settings.CRM_MERGE_UNDO_HOURS}))
    return redirect(reverse("duplicates"))


@import_export_required
@require_http_methods(["GET", "POST"])
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(ContactMerge.objects.select_related("kept", "merged_by"), pk=pk,
                               kept__in=contacts_visible_to(request.user))
    refusal = merge.merge_undo_refusal(record)
    if request.method == "POST":
        if refusal:
            messages.error(request, refusal)
            return redirect("contacts:detail", pk=record.kept_id)
        try:
            restored = merge.merge_undo(record=record, by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("contacts:detail", pk=record.kept_id)
        messages.success(request, _("Merge undone: %(merged)s is a contact of its own again, with what it had.") % {
            "merged": restored.display_name})
        return redirect("contacts:detail", pk=restored.pk)
    return render(request, "contacts/io/merge_undo.html", {
        "record": record, "refusal": refusal,
        "moved": {key.split(".")[1]: len(ids) for key, ids in (record.undo_data or {}).get("moved", {}).items()},
        "restored_fields": sorted((record.undo_data or {}).get("kept_before", {})),
        "undo_until": record.merged_at + timedelta(hours=settings.CRM_MERGE_UNDO_HOURS)})
