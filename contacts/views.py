"""Contact pages: stage lists, the contact page and its actions, and a rep's prospect queue.

Every view is thin: check access, parse a form, call one service or selector, render or
redirect. Contacts load through contacts_visible_to (others' contacts answer 404) and
writes through contacts_editable_by (read-only viewers get 403).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from contacts import merge, services
from contacts.fields import types as custom_types
from contacts.fields import views as fields_views
from contacts.forms import (
    ContactEditForm,
    InteractionForm,
    NoteForm,
    OwnerForm,
    QuickNoteForm,
    StageForm,
    add_service_errors,
)
from contacts.models import Contact, Industry, Note, Stage
from contacts.segments import views as views_segments
from contacts.selectors import (
    CONSENT_CHOICES,
    LIST_COUNT_CAP,
    contact_list,
    contact_timeline,
    contacts_editable_by,
    contacts_visible_to,
    keyset_cache_key,
    keyset_page,
    my_prospects,
    owner_choices,
    rollup_tab_counts,
    score_breakdown_rows,
    stage_tab_counts,
)
from crm import roles
from crm.audit import audit
from crm.paging import WholePagePaginator
from crm.replica import replica_view
from scoring import tasks as scoring_tasks

ANY_ROLE = roles.ROLES
PAGE_SIZE = 50

# What to do with people at each stage (shown above each stage list).
GUIDANCE = {
    "": gettext_lazy("Everyone you can see. Pick a stage to get advice on how to nurture it."),
    Stage.CONTACT: gettext_lazy(
        "New names. Open with a relevant first approach: answer what brought them in (the ad, form or post "
        "they reacted to) and only message channels they opted in to."
    ),
    Stage.LEAD: gettext_lazy(
        "Interested, not ready to buy. Send educational content (guides, webinars, case studies) that helps them "
        "decide; no price promotions yet, they push leads away."
    ),
    Stage.PROSPECT: gettext_lazy(
        "Showing buying intent. A sales rep should follow up personally and quickly, within the follow-up time: "
        "call or WhatsApp, answer the price question, propose a next step."
    ),
    Stage.CUSTOMER: gettext_lazy(
        "Bought or signed. Onboard them well, then keep them: check in after the first use, offer support, "
        "and ask for a referral or review."
    ),
}
STAGE_TITLES = {
    "": gettext_lazy("All contacts"),
    Stage.CONTACT: gettext_lazy("Contacts"),
    Stage.LEAD: gettext_lazy("Leads"),
    Stage.PROSPECT: gettext_lazy("Prospects"),
    Stage.CUSTOMER: gettext_lazy("Customers"),
}
SORTABLE = {
    "full_name": gettext_lazy("Name"),
    "company": gettext_lazy("Company"),
    "score": gettext_lazy("Score"),
    "last_interaction_at": gettext_lazy("Last activity"),
    "stage_changed_at": gettext_lazy("In stage since"),
    "created_at": gettext_lazy("Added"),
}


class CappedPaginator(WholePagePaginator):
    """Offset pagination whose count stops at LIST_COUNT_CAP, unless the count is exact.

    Why not an exact COUNT(*): on a million contacts it scans the table on every page view.
    With the cap, counting reads at most cap+1 index entries, and beyond the cap the page asks
    the user to narrow the filters instead of paging through 10,000+ rows. When the list's only
    filters are the stage rollup's dimensions (stage, industry, source, owner) the count comes
    from the rollup instead, exact at any size (`exact=True`), and every page can be reached."""

    def __init__(self, *args, known_count: int | None = None, exact: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_count = known_count
        self.exact = exact

    @cached_property
    def count(self) -> int:
        if self.known_count is not None:  # the stage tabs counted the same rows already
            return self.known_count
        return self.object_list.order_by()[: LIST_COUNT_CAP + 1].count()

    @property
    def is_capped(self) -> bool:
        return not self.exact and self.count > LIST_COUNT_CAP


class KeysetPaginator(CappedPaginator):
    """A stage list in its default order (-score, -id): pages read by keyset on the (stage,
    score, id) indexes (contacts.selectors.keyset_page), so page 40 or the last page costs what
    page 1 costs. Page numbers stay: links and "page N of M" work as before."""

    def __init__(self, *args, cache_key: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.cache_key = cache_key

    def page(self, number):
        number = self.validate_number(number)
        rows = keyset_page(self.object_list, number=number, per_page=self.per_page, count=self.count,
                           exact=not self.is_capped, cache_key=self.cache_key)
        return self._get_page(rows, number, self)


def _query_without(params: QueryDict, *keys: str) -> QueryDict:
    query = params.copy()
    for key in keys:
        query.pop(key, None)
    return query


# --- Stage lists -----------------------------------------------------------------

@require_GET
@roles.role_required(*ANY_ROLE)
@replica_view
def contact_list_view(request: HttpRequest) -> HttpResponse:
    # Numbers and dates as the reader types them ("1.250" in Indonesian), in the filters' own form.
    typed_params, input_errors = custom_types.typed_filter_params(request.GET)
    params = typed_params.copy()
    stage = params.get("stage", "")
    if stage not in Stage.values:
        stage = ""
        params.pop("stage", None)
    if not params.get("ordering"):
        # Defaults that an index serves: (stage, -score, -id) within a stage, (-updated_at) across stages.
        params["ordering"] = "-score" if stage else "-updated_at"
    qs, filterset = contact_list(request.user, params, request=request)
    qs = qs.prefetch_related("tags").order_by(*qs.query.order_by, "-id")

    base, base_filters = contact_list(request.user, _query_without(params, "stage", "ordering"), request=request)
    counts = rollup_tab_counts(request.user, base_filters)
    exact = counts is not None
    if counts is None:
        counts = stage_tab_counts(base, LIST_COUNT_CAP)

    ordering = params["ordering"]
    if stage and ordering == "-score":
        paginator = KeysetPaginator(qs, PAGE_SIZE, known_count=counts[stage], exact=exact,
                                    cache_key=keyset_cache_key(request.user, params))
    else:
        paginator = CappedPaginator(qs, PAGE_SIZE, known_count=counts[stage], exact=exact)
    number = request.GET.get("page")
    page = paginator.get_page(paginator.num_pages if number == "last" else number)
    can_edit_all = roles.sees_all_contacts(request.user)
    context = {
        "stage": stage,
        "stage_title": STAGE_TITLES[stage],
        "guidance": GUIDANCE[stage],
        "tabs": [(s, STAGE_TITLES[s], counts[s]) for s in ("", *Stage.values)],
        "count_cap": LIST_COUNT_CAP,
        "counts_exact": exact,
        "filterset": filterset,
        "page": page,
        "paginator": paginator,
        "ordering": ordering,
        "columns": [
            {"field": f, "label": label, "sort": _sort_state(ordering, f)} for f, label in SORTABLE.items()
        ],
        "industries": Industry.choices,
        "stage_choices": Stage.choices,
        "consent_choices": CONSENT_CHOICES,
        "owners": owner_choices() if can_edit_all else [],
        "show_owner_filter": can_edit_all,
        "can_reassign": roles.can_reassign(request.user),
        "can_export": roles.can_import_export(request.user),
        "has_filters": any(k for k in request.GET if k not in ("stage", "ordering", "page")),
        "input_errors": input_errors,
        "return_to": request.get_full_path(),
        **views_segments.list_context(request, typed_params),
    }
    context.update(fields_views.list_filters(request.GET, context["hidden_params"]))
    if context["segment"]:
        context["stage_title"] = context["segment"].name
    return render(request, "contacts/list.html", context)


def _sort_state(ordering: str, field: str) -> dict:
    """aria-sort value and the next ordering for a column header link."""
    if ordering == field:
        return {"aria": "ascending", "next": "-" + field}
    if ordering == "-" + field:
        return {"aria": "descending", "next": field}
    # Numbers and dates sort high/new first on the first click, text A→Z.
    return {"aria": None, "next": field if field in ("full_name", "company") else "-" + field}


# --- Contact page ----------------------------------------------------------------

def _contact_for_change(request: HttpRequest, pk: int) -> Contact:
    """404 when the user may not see it, 403 when they may see but not change it."""
    contact = get_object_or_404(contacts_visible_to(request.user).select_related("owner"), pk=pk)
    if not contacts_editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied
    return contact


def _interaction_form(contact: Contact, **kwargs) -> InteractionForm:
    """The "Log interaction" form, the kinds of the contact's industry listed first."""
    return InteractionForm(first_kinds=scoring_tasks.kinds_scored_for(contact.industry), **kwargs)


def _detail_context(request: HttpRequest, contact: Contact, **forms) -> dict:
    can_edit = roles.sees_all_contacts(request.user) or contact.owner_id == request.user.pk
    can_reassign = can_edit and roles.can_reassign(request.user)
    timeline = contact_timeline(contact)
    breakdown = score_breakdown_rows(contact)
    breakdown["ruleset"], labels = scoring_tasks.breakdown_labels(contact.score_breakdown or {})
    for row in breakdown["rows"]:
        row["label"] = labels.get(row["rule"], row["label"])
    now = timezone.now()
    fresh_interaction_form = _interaction_form(contact, initial={"occurred_at": timezone.localtime(now)}) if can_edit else None
    return {
        "contact": contact,
        "merges_undoable": merge.merges_undoable(kept=contact) if roles.can_import_export(request.user) else [],
        "can_edit": can_edit,
        "can_reassign": can_reassign,
        "timeline": timeline,
        "history": [obj for kind, _at, obj in timeline if kind == "stage"],
        "open_follow_ups": sorted(
            (obj for kind, _at, obj in timeline if kind == "note" and obj.due_at and not obj.done_at),
            key=lambda n: n.due_at,
        ),
        "breakdown": breakdown,
        "tags": list(contact.tags.all()),
        "consents": list(contact.consent_records.all()[:5]),
        "now": now,
        "interaction_form": forms.get("interaction_form") or fresh_interaction_form,
        "note_form": forms.get("note_form") or (NoteForm() if can_edit else None),
        "stage_form": forms.get("stage_form") or (StageForm(initial={"stage": contact.stage}) if can_edit else None),
        "owner_form": forms.get("owner_form") or (OwnerForm(initial={"owner": contact.owner_id}) if can_reassign else None),
        "stage_class": contact.stage,
        **fields_views.field_rows(contact),
    }


def _detail_response(request: HttpRequest, contact: Contact, status: int = 200, **forms) -> HttpResponse:
    return render(request, "contacts/detail.html", _detail_context(request, contact, **forms), status=status)


@require_GET
@roles.role_required(*ANY_ROLE)
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(contacts_visible_to(request.user).select_related("owner"), pk=pk)
    audit(request.user, "view", contact)
    return _detail_response(request, contact)


def _invalid(request: HttpRequest, contact: Contact, key: str, form) -> HttpResponse:
    messages.error(request, _("Please correct the errors below."))
    return _detail_response(request, contact, status=400, **{key: form})


def _done(request: HttpRequest, contact: Contact, message: str) -> HttpResponse:
    """After a change (the service wrote its audit row): say so and show the contact."""
    messages.success(request, message)
    return redirect("contacts:detail", pk=contact.pk)


@require_POST
@roles.role_required(*ANY_ROLE)
def contact_log_interaction(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact_for_change(request, pk)
    form = _interaction_form(contact, data=request.POST)
    if form.is_valid():
        data = {"note": form.cleaned_data["note"]} if form.cleaned_data["note"] else {}
        try:
            services.interaction_log(
                contact=contact, kind=form.cleaned_data["kind"], occurred_at=form.cleaned_data["occurred_at"],
                channel=form.cleaned_data["channel"], data=data, source="page", by=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return _done(request, contact, _("Interaction logged; the score updates in a moment."))
    return _invalid(request, contact, "interaction_form", form)


@require_POST
@roles.role_required(*ANY_ROLE)
def contact_add_note(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact_for_change(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            note = services.note_add(contact=contact, author=request.user, body=form.cleaned_data["body"],
                                     due_at=form.cleaned_data["due_at"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            message = _("Follow-up saved.") if note.due_at else _("Note saved.")
            return _done(request, contact, message)
    return _invalid(request, contact, "note_form", form)


@require_POST
@roles.role_required(*ANY_ROLE)
def contact_complete_note(request: HttpRequest, pk: int, note_id: int) -> HttpResponse:
    contact = _contact_for_change(request, pk)
    note = get_object_or_404(Note, pk=note_id, contact=contact)
    services.note_complete(note=note, by=request.user)
    if request.POST.get("next") == "prospects":
        messages.success(request, _("Follow-up marked as done."))
        return redirect("contacts:my_prospects")
    return _done(request, contact, _("Follow-up marked as done."))


@require_POST
@roles.role_required(*ANY_ROLE)
def contact_set_stage(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact_for_change(request, pk)
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            services.contact_set_stage(contact=contact, stage=form.cleaned_data["stage"], by=request.user,
                                       note=form.cleaned_data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            label = Stage(form.cleaned_data["stage"]).label
            return _done(request, contact, _("Stage set to %(stage)s and pinned: rules will not move it until you unpin it.")
                         % {"stage": label})
    return _invalid(request, contact, "stage_form", form)


@require_POST
@roles.role_required(*ANY_ROLE)
def contact_unpin(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact_for_change(request, pk)
    services.contact_unpin(contact=contact, by=request.user)
    return _done(request, contact, _("Stage unpinned: the rules decide it again."))


@require_POST
@roles.role_required(*ANY_ROLE)
def contact_assign_owner(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact_for_change(request, pk)
    if not roles.can_reassign(request.user):
        raise PermissionDenied
    form = OwnerForm(request.POST)
    if form.is_valid():
        owner = form.cleaned_data["owner"]
        services.contact_assign_owner(contact=contact, owner=owner, by=request.user)
        who = (owner.get_full_name() or owner.username) if owner else _("nobody")
        return _done(request, contact, _("Assigned to %(owner)s.") % {"owner": who})
    return _invalid(request, contact, "owner_form", form)


@roles.role_required(*ANY_ROLE)
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact_for_change(request, pk)
    if request.method == "POST":
        form = ContactEditForm.for_contact(contact, request.POST)
        if form.is_valid():
            try:
                services.contact_update(contact=contact, data=form.service_data(), by=request.user, consent_source="page")
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                return _done(request, contact, _("Contact saved."))
        status = 400
    else:
        form = ContactEditForm.for_contact(contact)
        status = 200
    return render(request, "contacts/edit.html", {"contact": contact, "form": form}, status=status)


# --- A rep's queue -----------------------------------------------------------------

@require_GET
@roles.role_required(roles.SALES)
@replica_view
def my_prospects_view(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    paginator = Paginator(my_prospects(request.user, now=now).select_related("owner"), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "contacts/my_prospects.html", {
        "page": page,
        "paginator": paginator,
        "now": now,
        "note_form": QuickNoteForm(),
        "guidance": GUIDANCE[Stage.PROSPECT],
    })


@require_POST
@roles.role_required(roles.SALES)
def prospect_quick_note(request: HttpRequest, pk: int) -> HttpResponse:
    # The access selector every view uses, narrowed to the caller's own prospects (this is their queue).
    contact = get_object_or_404(contacts_editable_by(request.user).filter(owner=request.user), pk=pk)
    form = QuickNoteForm(request.POST, prefix=f"c{pk}")
    saved = False
    if form.is_valid():
        try:
            services.note_add(contact=contact, author=request.user, body=form.cleaned_data["body"],
                              due_at=form.cleaned_data["due_at"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            saved = True
    if request.htmx:
        # Swap just this row: the note form clears and the row's follow-up state updates.
        row = my_prospects(request.user).filter(pk=pk).first()
        return render(request, "contacts/_prospect_row.html", {
            "c": row or contact, "now": timezone.now(), "saved": saved,
            "note_form": QuickNoteForm(prefix=f"c{pk}") if saved else form,
        })  # 200 either way: htmx swaps only successful responses, and errors show inline
    if saved:
        messages.success(request, _("Note saved for %(name)s.") % {"name": contact.display_name})
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"{contact.display_name}: {error}")
    return redirect("contacts:my_prospects")
