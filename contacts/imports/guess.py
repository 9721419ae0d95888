"""A suggested mapping from what each column holds (contacts.imports.profiling) and its header
(Indonesian and English words, the synonym tables of contacts.imports.synonyms), and the one-line
reason the mapping page and `import_contacts --show-mapping` print beside each column."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.imports import files, profiling, synonyms
from contacts.imports.cells import parse_datetime
from contacts.imports.files import FileFormat
from contacts.imports.mapping import (
    IDENTITY_TARGETS,
    custom_names,
    mapping_normalise,
    norm_header,
    source_from_file_name,
    target_label,
)
from contacts.models import InteractionKind
from contacts.services import CONSENT_FIELDS
from scoring import tasks as scoring_tasks

_GUESS_WORDS: dict[str, tuple[str, ...]] = {
    "full_name": ("nama", "nama lengkap", "name", "full name", "fullname", "nama pelanggan", "nama kontak",
                  "nama customer", "customer name", "contact name", "lead name", "nama peserta", "nama siswa",
                  "nama pasien", "nama calon siswa"),
    "first_name": ("first name", "firstname", "nama depan", "given name"),
    "last_name": ("last name", "lastname", "nama belakang", "surname", "family name"),
    "email": ("email", "e mail", "surel", "alamat email", "alamat e mail", "email address", "e mail address",
              "alamat surel", "mail"),
    "phone": ("no hp", "nomor hp", "no handphone", "nomor handphone", "hp", "handphone", "telepon", "telp",
              "no telp", "no telepon", "nomor telepon", "phone", "phone number", "mobile", "mobile phone",
              "whatsapp", "no whatsapp", "nomor whatsapp", "no wa", "nomor wa", "wa", "ponsel", "no ponsel",
              "tel", "telephone", "cell", "cellphone"),
    "company": ("perusahaan", "nama perusahaan", "company", "company name", "organisasi", "organization",
                "organisation", "instansi", "account name", "institusi", "kantor", "nama usaha", "usaha"),
    "job_title": ("jabatan", "job title", "title", "posisi", "position", "role", "peran"),
    "city": ("kota", "city", "kabupaten", "kota kabupaten", "kabupaten kota", "kab kota", "domisili",
             "kota domisili", "town"),
    "industry": ("industri", "industry", "sektor", "sector", "bidang usaha"),
    "source": ("sumber", "source", "lead source", "sumber lead", "sumber data", "sumber informasi", "original source"),
    "utm_source": ("utm source",),
    "utm_medium": ("utm medium",),
    "utm_campaign": ("utm campaign", "campaign", "kampanye", "campaign name", "nama kampanye"),
    "social_handle": ("instagram", "ig", "akun instagram", "twitter", "tiktok", "social handle",
                      "akun sosial media", "sosial media", "social media"),
    "external_ref": ("id", "lead id", "id lead", "record id", "contact id", "id kontak", "customer id",
                     "id pelanggan", "external id", "crm id", "ref", "reference", "referensi", "no ref", "prospect id"),
    "tags": ("tags", "tag", "label", "labels"),
    "consent_email": ("email opt in", "opt in email", "consent email", "persetujuan email", "izin email"),
    "consent_whatsapp": ("whatsapp opt in", "wa opt in", "opt in whatsapp", "opt in wa", "consent whatsapp",
                         "persetujuan whatsapp", "izin whatsapp", "izin wa"),
    "consent_sms": ("sms opt in", "opt in sms", "consent sms", "persetujuan sms", "izin sms"),
    "do_not_contact": ("do not contact", "dnc", "jangan dihubungi", "tidak bersedia dihubungi"),
}
_GUESS = {word: target for target, words in _GUESS_WORDS.items() for word in words}
# Columns that usually are an interaction: (kind, mode) for their normalised header.
_GUESS_INTERACTIONS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("last activity", "last activity date", "aktivitas terakhir", "tanggal aktivitas terakhir",
                     "tanggal aktivitas", "last seen", "terakhir aktif"), ("page_viewed", "date")),
    **dict.fromkeys(("tanggal daftar", "tanggal pendaftaran", "tanggal submit", "submitted at", "submission date",
                     "date submitted", "tanggal isi formulir", "timestamp", "stempel waktu", "cap waktu"),
                    ("form_submitted", "date")),
    **dict.fromkeys(("last message date", "last message time", "last message at", "last chat", "last chat date",
                     "pesan terakhir", "tanggal pesan terakhir", "waktu pesan terakhir"), ("whatsapp_message", "date")),
}
# Outcome columns: yes = the person converted. They log the conversion of each contact's industry
# (contacts.imports.validation.Compiled.outcome_kind), never a kind chosen here.
_GUESS_OUTCOMES = frozenset({"converted", "konversi", "revenue", "purchased", "pembelian", "sudah beli", "closed won"})
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def column_profiles(content: bytes, fmt: FileFormat, header: Sequence[str],
                    rows: int = profiling.SAMPLE_ROWS) -> dict[str, dict[str, Any]]:
    """What each column holds, from its first `rows` values (contacts.imports.profiling), as JSON."""
    _header_, records = files.file_rows(content, fmt)  # through the module: a test counts the reads
    values: list[list[Any]] = [[] for _name in header]
    for _number, cells in islice(records, rows):
        for position, cell in enumerate(cells[: len(header)]):
            values[position].append(cell)
    return {name: profiling.profile(values[i], is_date=lambda v: parse_datetime(v) is not None).as_json()
            for i, name in enumerate(header)}


# Columns whose values name a person: their profile keeps no values, even when they repeat.
_PERSONAL_TARGETS = frozenset({"full_name", "first_name", "last_name", "email", "phone", "company", "social_handle",
                               "external_ref"})


def profiles_kept(profiles: dict[str, dict[str, Any]], mapping: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The profiles as stored on the job: without the values of columns that name a person."""
    columns = mapping.get("columns") or {}
    for name, profile in profiles.items():
        spec = columns.get(name)
        target = spec.get("target") if isinstance(spec, Mapping) else spec
        if target in _PERSONAL_TARGETS:
            profile["top"] = []
    return profiles


def _profiles_from_preview(header: Sequence[str], preview: Sequence[Sequence[Any]]) -> dict[str, dict[str, Any]]:
    return {name: profiling.profile([row[i] for row in preview if i < len(row)],
                                       is_date=lambda v: parse_datetime(v) is not None).as_json()
            for i, name in enumerate(header)}


def activity_proposals(profile: Mapping[str, Any], kinds: Iterable[str] | None = None) -> dict[str, str]:
    """The kind proposed for each distinct value of an activity column ("" = ignore it)."""
    kinds = set(kinds) if kinds is not None else None
    return {str(value): synonyms.activity_kind(value, kinds) or "" for value, _count in profile.get("top", [])}


def _is_activity_column(name: str, profile: Mapping[str, Any]) -> bool:
    """Short repeating texts, under an "activity"-like header or mostly names we know. A column
    about where the record came from ("Lead Origin") is one only when a fifth of its rows name
    the person's own action ("Landing Page Submission" is a form they filled; "API" or "Lead
    Import" say how our system got them, and propose nothing)."""
    if profile.get("kind") != "category" or profile.get("date_share", 0) >= 0.5:
        return False
    top = profile.get("top") or []
    total = sum(count for _value, count in top)
    if synonyms.is_origin_header(name):
        acting = sum(count for value, count in top if synonyms.activity_kind(value))
        return bool(top) and acting >= 0.2 * total
    if synonyms.is_activity_header(name):
        return True
    known = sum(count for value, count in top if synonyms.is_known_activity(value))
    return bool(top) and known >= 0.5 * total


def mapping_guess(header: Sequence[str], preview: Sequence[Sequence[Any]] = (), *, file_name: str = "",
                  kinds: Iterable[str] | None = None, profiles: Mapping[str, Mapping[str, Any]] | None = None,
                  custom: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
    """A suggested mapping from the headers and, above all, from what the columns hold
    (`profiles`, from column_profiles; else judged on the preview rows): a column whose
    values are not dates never becomes a date; activity names, counts and opt-outs are
    recognised; the rest is kept (numbers as numbers). A column named like a custom field fills it."""
    if custom is None:  # given kinds (a caller without the database, e.g. a test): no custom fields either
        custom = custom_names() if kinds is None else {}
    kinds = set(kinds) if kinds is not None else set(InteractionKind.objects.values_list("slug", flat=True))
    profiles = dict(profiles) if profiles is not None else _profiles_from_preview(header, preview)
    columns: dict[str, Any] = {}
    used: set[str] = set()
    counted: set[str] = set()  # one count column per kind ("Number of Sessions" and "Number of Pageviews")
    # A column named like a custom field (its key or a label) fills that field.
    # (`custom`: target -> its names: key and both labels.)
    custom = {norm_header(word): target for target, words in custom.items() for word in words}
    for name in header:
        key = norm_header(name)
        profile = profiles.get(name) or {"kind": "empty"}
        content = profile.get("kind")
        if custom.get(key) and custom[key] not in used:
            columns[name] = custom[key]
            used.add(custom[key])
            continue
        target = _GUESS.get(key) or _GUESS.get(key.replace(" ", ""))
        if target in CONSENT_FIELDS and content not in ("flag", "empty"):
            target = None
        if target and target not in used:
            columns[name] = target
            used.add(target)
            continue
        opt_out = synonyms.opt_out_target(name)
        if opt_out and content in ("flag", "empty"):
            columns[name] = opt_out
            continue
        if key in _GUESS_INTERACTIONS and _GUESS_INTERACTIONS[key][0] in kinds:
            kind, mode = _GUESS_INTERACTIONS[key]
            # The header and the values must agree: mostly dates (a few typos become warnings), or yes/no.
            dates = content == "date" or profile.get("date_share", 0) >= 0.5
            if content == "empty" or (mode == "date" and dates) or (mode == "flag" and content in ("flag", "number")):
                columns[name] = {"target": "interaction", "kind": kind, "mode": mode}
                continue
        if key in _GUESS_OUTCOMES and content in ("flag", "number", "empty"):
            columns[name] = {"target": "outcome"}
            continue
        count = synonyms.count_kind(name)
        if count and count in kinds and count not in counted and content in ("number", "empty") and (
                content == "empty" or profile.get("integer")):
            columns[name] = {"target": "count", "kind": count}
            counted.add(count)
            continue
        if _is_activity_column(name, profile):
            columns[name] = {"target": "activity", "values": activity_proposals(profile, kinds)}
            continue
        if content == "email" and "email" not in used:
            columns[name] = "email"
            used.add("email")
        elif content == "phone" and "phone" not in used:
            columns[name] = "phone"
            used.add("phone")
        elif content == "number":
            columns[name] = "number"
    if "full_name" in used:  # a full-name column wins over first/last name parts
        columns = {k: ("attribute" if v in ("first_name", "last_name") else v) for k, v in columns.items()}
    has_identity = any(v in IDENTITY_TARGETS for v in columns.values())
    return mapping_normalise({
        "source": source_from_file_name(file_name),
        "identity": "auto" if has_identity else "row",
        "columns": columns,
    }, header)


_CONTENT_WORDS: dict[str, Any] = {
    "empty": gettext_lazy("empty in the first rows"),
    "flag": gettext_lazy("yes/no values"),
    "email": gettext_lazy("email addresses"),
    "url": gettext_lazy("web addresses"),
    "phone": gettext_lazy("phone numbers"),
    "date": gettext_lazy("dates"),
    "identifier": gettext_lazy("a different code on every row"),
}


def outcome_kinds_text() -> str:
    """What an outcome column logs, per industry: "purchase; b2b: contract_signed; …" (the
    default first, then the industries whose conversion differs)."""
    kinds = scoring_tasks.outcome_conversion_kinds()
    default = kinds.get("", "purchase")
    return "; ".join([default, *(f"{industry}: {kind}" for industry, kind in kinds.items() if industry and kind != default)])


def _amount(value: float | None) -> str:
    return "" if value is None else str(int(value)) if float(value).is_integer() else f"{value:g}"


def guess_reason(name: str, profile: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> str:
    """One line saying what the column holds and what it becomes, e.g.
    "Last Activity: 38 distinct texts such as “Email Opened” → activity names"."""
    profile = profile or {"kind": "empty"}
    content = profile.get("kind")
    examples = [str(v) for v, _n in (profile.get("top") or [])[:2]]
    such_as = ", ".join(f"“{v[:40]}”" for v in examples)
    if content == "number":
        low, high = profile.get("low"), profile.get("high")
        seen = (_("whole numbers from %(low)s to %(high)s") if profile.get("integer") else _("numbers from %(low)s to %(high)s")) % {
            "low": _amount(low), "high": _amount(high)}
    elif content in ("category", "text") and such_as:
        seen = _("%(n)d distinct texts such as %(examples)s") % {"n": profile.get("distinct", 0), "examples": such_as}
    elif content in ("category", "text"):
        seen = _("%(n)d distinct texts") % {"n": profile.get("distinct", 0)}
    else:
        seen = str(_CONTENT_WORDS.get(content, content))
        if such_as and content in ("date", "flag"):
            seen += " " + _("such as %(examples)s") % {"examples": such_as}
    target = spec.get("target", "attribute")
    if target == "activity":
        becomes = _("activity names")
    elif target == "outcome":
        becomes = _("outcome: when yes, the conversion of the contact's industry (%(kinds)s)") % {
            "kinds": outcome_kinds_text()}
    elif target in ("interaction", "count"):
        kind = spec.get("kind", "")
        becomes = (_("number of “%(kind)s” interactions") if target == "count" else
                   _("date of a “%(kind)s” interaction") if spec.get("mode") == "date" else
                   _("a “%(kind)s” interaction when yes")) % {"kind": kind}
    else:
        becomes = target_label(target)
    return f"{name}: {seen} → {becomes}"
