"""The mapping: which column becomes which contact field, interaction, count or opt-out.
Its canonical JSON form, its validation, and the mappings shipped in contacts/imports/mappings/."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.fields import types as custom_types
from contacts.models import ImportJob, Industry, InteractionKind

ROW_REF_PREFIX = "row:"


MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"


# --- Targets a column can map to -------------------------------------------------

FIELD_TARGETS: dict[str, Any] = {
    "full_name": gettext_lazy("Full name"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone / WhatsApp"),
    "company": gettext_lazy("Company"),
    "job_title": gettext_lazy("Job title"),
    "city": gettext_lazy("City"),
    "industry": gettext_lazy("Industry"),
    "source": gettext_lazy("Source"),
    "utm_source": gettext_lazy("UTM source"),
    "utm_medium": gettext_lazy("UTM medium"),
    "utm_campaign": gettext_lazy("UTM campaign"),
    "social_handle": gettext_lazy("Social handle"),
    "external_ref": gettext_lazy("Record ID in the source system"),
    "tags": gettext_lazy("Tags (comma-separated)"),
    "consent_email": gettext_lazy("Email opt-in (yes/no)"),
    "consent_whatsapp": gettext_lazy("WhatsApp opt-in (yes/no)"),
    "consent_sms": gettext_lazy("SMS opt-in (yes/no)"),
    "do_not_contact": gettext_lazy("Do not contact (yes/no)"),
}
TARGETS: dict[str, Any] = {
    "attribute": gettext_lazy("Keep as attribute"),
    "number": gettext_lazy("Keep as a number (rules can compare it)"),
    "ignore": gettext_lazy("Do not import"),
    **FIELD_TARGETS,
    "opt_out_email": gettext_lazy("Email opt-out (yes = no emails)"),
    "opt_out_phone": gettext_lazy("Call, WhatsApp and SMS opt-out (yes = no calls or messages)"),
    "interaction": gettext_lazy("Interaction (choose the kind)"),
    "activity": gettext_lazy("Activity names (each value is an interaction)"),
    "count": gettext_lazy("Count of interactions (choose the kind)"),
    "outcome": gettext_lazy("Outcome: converted (yes = the conversion of the contact's industry)"),
}
# A custom field (contacts.fields): "field:<key>"; the cell is checked and stored by the field's type.
CUSTOM_PREFIX = "field:"


def custom_targets() -> dict[str, Any]:
    """The active custom fields as targets, by label."""
    return {f"{CUSTOM_PREFIX}{field.key}": field.label for field in custom_types.active_fields()}


def custom_names() -> dict[str, tuple[str, ...]]:
    """Each custom field's target and the names a column may carry to be guessed as it: key and both labels."""
    return {f"{CUSTOM_PREFIX}{field.key}": (field.key, field.label_en, field.label_id) for field in custom_types.active_fields()}


def target_label(target: str) -> str:
    if target in TARGETS:
        return str(TARGETS[target])
    if target.startswith(CUSTOM_PREFIX):
        return str(custom_targets().get(target, target))
    return target


def target_choices() -> list[tuple[Any, Any]]:
    """The "Import as" choices: the built-in targets, then the custom fields in a group of their own."""
    custom = list(custom_targets().items())
    return [*TARGETS.items(), *([(gettext_lazy("Custom fields"), custom)] if custom else [])]


# Several columns may use these.
MULTI_TARGETS = frozenset({"attribute", "number", "ignore", "interaction", "activity", "count", "outcome",
                           "opt_out_email", "opt_out_phone"})
# Opt-out columns: a "yes" withdraws these consents (contacts.services.consent, with the import job as evidence).
OPT_OUT_FLAGS: dict[str, tuple[str, ...]] = {
    "opt_out_email": ("consent_email",),
    "opt_out_phone": ("consent_whatsapp", "consent_sms"),
}
IDENTITY_TARGETS = ("email", "phone", "external_ref")
MODES = {
    "date": gettext_lazy("The cell is the date it happened"),
    "flag": gettext_lazy("It happened when the cell says yes/true"),
}
IDENTITY_MODES = {
    "auto": gettext_lazy("Email, phone or the record-ID column"),
    "row": gettext_lazy("Source name + row number (anonymous data)"),
}


def norm_header(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def source_from_file_name(file_name: str) -> str:
    return slugify(Path(file_name or "import").stem)[:100] or "import"


def _column_spec(spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        spec = {"target": spec}
    spec = dict(spec or {})
    out: dict[str, Any] = {"target": str(spec.get("target") or "attribute")}
    if out["target"] == "interaction":
        out["kind"] = str(spec.get("kind") or "")
        out["mode"] = str(spec.get("mode") or "date")
        if spec.get("date_column"):
            out["date_column"] = str(spec["date_column"])
        if spec.get("truthy"):
            out["truthy"] = [str(w) for w in spec["truthy"]]
        if spec.get("channel"):
            out["channel"] = str(spec["channel"])
    elif out["target"] == "count":
        out["kind"] = str(spec.get("kind") or "")
        if spec.get("date_column"):
            out["date_column"] = str(spec["date_column"])
    elif out["target"] == "outcome":
        if spec.get("date_column"):
            out["date_column"] = str(spec["date_column"])
        if spec.get("truthy"):
            out["truthy"] = [str(w) for w in spec["truthy"]]
    elif out["target"] == "activity":
        out["values"] = {str(k): str(v or "") for k, v in dict(spec.get("values") or {}).items()}
        if spec.get("date_column"):
            out["date_column"] = str(spec["date_column"])
    if spec.get("blank"):
        out["blank"] = [str(w) for w in spec["blank"]]
    return out


def mapping_normalise(mapping: Mapping[str, Any], header: Sequence[str]) -> dict[str, Any]:
    """The canonical form: every header column present (attribute by default), specs as dicts."""
    given = dict(mapping.get("columns") or {})
    defaults = {k: v for k, v in dict(mapping.get("defaults") or {}).items() if v not in (None, "")}
    return {
        "source": str(mapping.get("source") or "").strip()[:100],
        "identity": str(mapping.get("identity") or "auto"),
        "defaults": defaults,
        "blank_values": [str(w) for w in mapping.get("blank_values") or []],
        "columns": {name: _column_spec(given.get(name, "attribute")) for name in header},
    }


def mapping_validate(mapping: Mapping[str, Any], header: Sequence[str]) -> dict[str, list[str]]:
    """Problems per column name (or "__all__"); empty when the mapping can run."""
    problems: dict[str, list[str]] = {}

    def problem(where: str, message: str) -> None:
        problems.setdefault(where, []).append(message)

    columns = mapping.get("columns") or {}
    kinds = set(InteractionKind.objects.values_list("slug", flat=True))
    used: dict[str, str] = {}
    custom = custom_targets() if any(str(spec.get("target")).startswith(CUSTOM_PREFIX) for spec in columns.values()) else {}
    for name, spec in columns.items():
        target = spec.get("target")
        if target not in TARGETS and target not in custom:
            problem(name, _("Unknown target “%(target)s”.") % {"target": target})
            continue
        if target not in MULTI_TARGETS:
            if target in used:
                label = TARGETS.get(target) or custom.get(target, target)
                problem(name, _("“%(other)s” is already mapped to %(target)s.") % {"other": used[target], "target": label})
            used.setdefault(target, name)
        if target == "interaction":
            if spec.get("kind") not in kinds:
                problem(name, _("Choose an interaction kind."))
            if spec.get("mode") not in MODES:
                problem(name, _("Choose how the cell says the interaction happened."))
        if target == "count" and spec.get("kind") not in kinds:
            problem(name, _("Choose the interaction kind one unit of the count stands for."))
        if target == "activity":
            unknown = sorted({kind for kind in (spec.get("values") or {}).values() if kind and kind not in kinds})
            if unknown:
                problem(name, _("Unknown interaction kind: %(kinds)s.") % {"kinds": ", ".join(unknown)})
        if target in ("interaction", "count", "activity", "outcome") and spec.get("date_column") and spec["date_column"] not in header:
            problem(name, _("The date column “%(column)s” is not in the file.") % {"column": spec["date_column"]})
    if "full_name" in used and ({"first_name", "last_name"} & set(used)):
        problem("__all__", _("Map either a full name or first and last name, not both."))
    identity = mapping.get("identity")
    if identity not in IDENTITY_MODES:
        problem("__all__", _("Choose how rows are identified."))
    elif identity == "auto" and not set(IDENTITY_TARGETS) & set(used):
        problem("__all__", _("Map an email, phone or record-ID column, or identify rows by source name and row number."))
    if identity == "row" and "external_ref" in used:
        problem(used["external_ref"], _("The file has record IDs: identify rows by them, not by row number."))
    if (identity == "row" or "external_ref" in used) and not mapping.get("source"):
        problem("__all__", _("Give the source a name: references are unique per source."))
    industry = (mapping.get("defaults") or {}).get("industry")
    if industry and industry not in Industry.values:
        problem("__all__", _("Unknown industry “%(value)s”.") % {"value": industry})
    return problems


def saved_mappings() -> dict[str, dict[str, Any]]:
    """The mappings shipped in contacts/imports/mappings/*.json, by file stem."""
    found = {}
    for path in sorted(MAPPINGS_DIR.glob("*.json")):
        found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return found


def mapping_load(path_or_name: str | Path) -> dict[str, Any]:
    """A mapping from a JSON file path, or the name of a shipped mapping."""
    path = Path(path_or_name)
    if not path.exists() and (MAPPINGS_DIR / f"{path_or_name}.json").exists():
        path = MAPPINGS_DIR / f"{path_or_name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(_("Cannot read the mapping %(path)s: %(error)s") % {"path": path, "error": exc}) from exc


def mapping_for_header(header: Sequence[str], *, exclude_job: int | None = None) -> dict[str, Any] | None:
    """A remembered mapping for a file with this exact header: a shipped one, else the last
    import of the same columns (so a monthly export is mapped once)."""
    columns = set(header)
    for mapping in saved_mappings().values():
        if set(mapping.get("header") or ()) == columns:
            return mapping
    earlier = (ImportJob.objects.exclude(pk=exclude_job).exclude(mapping={})
               .exclude(status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.PARSING])
               .filter(header=list(header)).only("mapping").first())
    return earlier.mapping if earlier else None
