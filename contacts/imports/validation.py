"""A mapping compiled for thousands of rows, and each row's plan: the contact fields, the
interactions its cells stand for, consents and opt-outs, and the cells left out with a warning.
Only a row without a usable identity is refused (RowError)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.fields import types as custom_types
from contacts.imports import synonyms
from contacts.imports.cells import (
    cell_number,
    cell_text,
    industry_value,
    is_blank,
    json_value,
    numeric_phone,
    parse_datetime,
    truthy,
)
from contacts.imports.mapping import CUSTOM_PREFIX, OPT_OUT_FLAGS, ROW_REF_PREFIX
from contacts.models import CustomField, ImportJob, InteractionKind
from contacts.services import CONSENT_FIELDS, clean_contact_data, normalize_email, normalize_phone
from scoring import tasks as scoring_tasks

# The kind an outcome column's plan carries until the row is written: the conversion of the
# contact's industry (Compiled.outcome_kind). Also in the interaction's stable key, so a re-import
# after the industry changed logs nothing twice.
OUTCOME = "conversion"


def custom_cell(custom: CustomField, raw: Any) -> Any:
    """A cell for a custom field, as stored: numbers and dates as spreadsheets write them (an XLSX
    number or date, "1.234,5", "05/03/2024", Indonesian month names), then checked by the field's type.
    ValidationError says why the cell does not fit."""
    if custom.type == CustomField.Type.NUMBER:
        amount = cell_number(raw)
        if amount is None:
            raise ValidationError(_("“%(value)s” is not a number.") % {"value": cell_text(raw)})
        return custom_types.coerce(custom, amount)
    if custom.type == CustomField.Type.DATE:
        when = parse_datetime(raw)
        if when is None:
            raise ValidationError(_("“%(value)s” is not a date.") % {"value": cell_text(raw)})
        return timezone.localtime(when).date().isoformat()
    return custom_types.coerce(custom, cell_text(raw))


class RowError(Exception):
    """A row that cannot be imported; the message is the reason shown in the report."""


@dataclass(frozen=True)
class InteractionSpec:
    column: str
    position: int
    kind: str
    mode: str  # "date" | "flag" | "activity" | "count" | "outcome"
    date_position: int | None
    truthy: tuple[str, ...]
    channel: str
    values: Mapping[str, str] = field(default_factory=dict)  # activity columns: normalised value -> kind ("" = ignore)


@dataclass
class RowPlan:
    number: int
    data: dict[str, Any]
    interactions: list[tuple[InteractionSpec, datetime, str, str]]  # spec, when, stable key, raw value
    defaults: dict[str, Any]
    # Consent columns ("yes" turns an opt-in or do-not-contact on): written by contacts.services.consent with the job as evidence.
    consents: dict[str, bool] = field(default_factory=dict)
    # Opt-out columns ("Do Not Email: yes"): consents withdrawn, also with the job as evidence.
    opt_outs: dict[str, bool] = field(default_factory=dict)
    # Cells left out of the row: {"row", "column", "value", "reason"}.
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # Normalised identities, filled by Known.load (None: absent or invalid; the upsert names the error).
    email: str | None = None
    phone: str | None = None


@dataclass
class Compiled:
    """A mapping turned into column positions, ready for thousands of rows."""

    header: list[str]
    source: str
    identity: str
    defaults: dict[str, Any]
    fields: list[tuple[int, str]]
    attributes: list[tuple[int, str]]
    interactions: list[InteractionSpec]
    blank: dict[int, frozenset[str]]
    imported_at: datetime
    column_of: dict[str, str] = field(default_factory=dict)  # field -> column name, for error messages
    job: ImportJob | None = None  # named in the consent evidence
    numbers: list[tuple[int, str]] = field(default_factory=list)  # attributes kept as numbers
    opt_outs: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    kinds: frozenset[str] = frozenset()
    count_cap: int = 25
    conversions: dict[str, str] = field(default_factory=dict)  # industry -> the kind an outcome column logs
    custom: list[tuple[int, str, CustomField]] = field(default_factory=list)  # custom fields: position, column, field

    def outcome_kind(self, industry: str | None) -> str:
        """The conversion an outcome column logs for a contact of this industry (resolved when
        the row is written, on the contact's industry: scoring.selectors.outcome_conversion_kinds)."""
        return self.conversions.get(industry or "") or self.conversions.get("", "purchase")

    def kind_for(self, spec: InteractionSpec, industry: str | None) -> str:
        return self.outcome_kind(industry) if spec.mode == "outcome" else spec.kind

    @classmethod
    def build(cls, mapping: Mapping[str, Any], header: list[str], imported_at: datetime) -> Compiled:
        index = {name: i for i, name in enumerate(header)}
        everywhere = {w.casefold() for w in mapping.get("blank_values") or []}
        compiled = cls(header=header, source=mapping.get("source") or "", identity=mapping.get("identity") or "auto",
                       defaults=dict(mapping.get("defaults") or {}), fields=[], attributes=[], interactions=[],
                       blank={}, imported_at=imported_at, count_cap=max(int(settings.CRM_IMPORT_COUNT_CAP), 0))
        specs = mapping.get("columns") or {}
        if any(spec.get("target") == "activity" for spec in specs.values()):
            compiled.kinds = frozenset(InteractionKind.objects.values_list("slug", flat=True))
        if any(spec.get("target") == "outcome" for spec in specs.values()):
            compiled.conversions = scoring_tasks.outcome_conversion_kinds()
        fields = (custom_types.active_by_key()
                  if any(str(spec.get("target")).startswith(CUSTOM_PREFIX) for spec in specs.values()) else {})
        for name, spec in specs.items():
            if name not in index:
                continue
            position, target = index[name], spec["target"]
            compiled.blank[position] = frozenset(everywhere | {w.casefold() for w in spec.get("blank", ())})
            if target == "ignore":
                continue
            if target.startswith(CUSTOM_PREFIX):
                if (custom := fields.get(target[len(CUSTOM_PREFIX):])) is not None:
                    compiled.custom.append((position, name, custom))
                    compiled.column_of[custom.attribute] = name
                else:  # deactivated since the mapping was saved: kept as it is, under the column's name
                    compiled.attributes.append((position, name))
            elif target == "attribute":
                compiled.attributes.append((position, name))
            elif target == "number":
                compiled.numbers.append((position, name))
            elif target in OPT_OUT_FLAGS:
                compiled.opt_outs.append((position, OPT_OUT_FLAGS[target]))
            elif target in ("interaction", "activity", "count", "outcome"):
                compiled.interactions.append(InteractionSpec(
                    column=name, position=position, kind=OUTCOME if target == "outcome" else spec.get("kind", ""),
                    mode=spec.get("mode", "date") if target == "interaction" else target,
                    date_position=index.get(spec.get("date_column") or ""), truthy=tuple(spec.get("truthy", ())),
                    channel=spec.get("channel", ""),
                    values={synonyms.norm(k): v for k, v in (spec.get("values") or {}).items()},
                ))
                # The activity's name and the count stay on the contact too (a count as a number, for rules).
                if target == "activity":
                    compiled.attributes.append((position, name))
                elif target == "count":
                    compiled.numbers.append((position, name))
            else:
                compiled.fields.append((position, target))
                compiled.column_of[target] = name
        if "full_name" not in compiled.column_of and {"first_name", "last_name"} & set(compiled.column_of):
            compiled.column_of["full_name"] = compiled.column_of.get("first_name") or compiled.column_of["last_name"]
        return compiled

    def value(self, cells: Sequence[Any], position: int) -> Any:
        """The cell, or None when it is blank or one of the column's "blank" words."""
        value = cells[position] if position < len(cells) else None
        if is_blank(value):
            return None
        if self.blank.get(position) and cell_text(value).casefold() in self.blank[position]:
            return None
        return value

    def plan(self, number: int, cells: Sequence[Any], now: datetime) -> RowPlan:
        """What the row writes. Raises RowError only when the row cannot be imported at all
        (no usable identity, or cells that do not line up with the header); a bad cell in any
        other column is left out and listed in the plan's warnings."""
        width = len(self.header)
        if any(not is_blank(c) for c in cells[width:]):
            raise RowError(_("The row has %(n)d cells but the header has %(m)d (a delimiter inside an unquoted value?).")
                           % {"n": len(cells), "m": width})
        warnings: list[dict[str, Any]] = []

        def warn(column: str, value: Any, reason: str) -> None:
            if not any(w["column"] == column for w in warnings):  # a date column read by several interactions
                warnings.append({"row": number, "column": column, "value": cell_text(value), "reason": reason})

        data: dict[str, Any] = {}
        consents: dict[str, bool] = {}
        names: dict[str, str] = {}
        for position, target in self.fields:
            value = self.value(cells, position)
            if value is None:
                continue
            if target in CONSENT_FIELDS:
                consents[target] = truthy(value)
            elif target == "tags":
                data["tags"] = [t.strip() for t in re.split(r"[,;]", cell_text(value)) if t.strip()]
            elif target == "industry":
                data["industry"] = industry_value(value)
            elif target in ("first_name", "last_name"):
                names[target] = cell_text(value)
            elif target == "phone" and isinstance(value, int):
                data["phone"] = numeric_phone(value)
            else:
                data[target] = cell_text(value)
        if names:
            data["full_name"] = " ".join(n for n in (names.get("first_name"), names.get("last_name")) if n)
        attributes = {key: json_value(v) for position, key in self.attributes if (v := self.value(cells, position)) is not None}
        for position, key in self.numbers:
            if (raw := self.value(cells, position)) is None:
                continue
            if (amount := cell_number(raw)) is None:
                warn(key, raw, _("“%(value)s” is not a number.") % {"value": cell_text(raw)})
            else:
                attributes[key] = amount
        for position, column, custom in self.custom:
            if (raw := self.value(cells, position)) is None:
                continue
            try:
                attributes[custom.key] = custom_cell(custom, raw)
            except ValidationError as exc:
                warn(column, raw, " ".join(exc.messages))
        if attributes:
            data["attributes"] = attributes
        opt_outs: dict[str, bool] = {}
        for position, flags in self.opt_outs:
            if (raw := self.value(cells, position)) is not None and truthy(raw):
                opt_outs.update(dict.fromkeys(flags, False))
        if self.identity == "row":
            data["external_ref"] = f"{ROW_REF_PREFIX}{number}"
        if data.get("external_ref"):
            data["external_source"] = self.source
        self._check_identity(data, warn)
        self._check_fields(data, warn)
        interactions = []
        found = [(spec, raw, occurrence) for spec in self.interactions
                 if (raw := self.value(cells, spec.position)) is not None
                 for occurrence in self._occurrences(spec, raw, cells, now, warn)]
        # A count includes the latest one: "Number of Form Submissions: 2" and "Recent Conversion:
        # Contact us form" are two forms, not three.
        counted = {kind for spec, _raw, (kind, *_rest) in found if spec.mode == "count"}
        activities: set[tuple[str, str]] = set()
        for spec, raw, (kind, when, dated, index) in found:
            moment = when.isoformat() if dated else "import"
            if spec.mode == "activity":
                # Exports repeat the latest activity ("Last Activity", "Last Notable Activity"): one event, once.
                if (kind, moment) in activities or kind in counted:
                    continue
                activities.add((kind, moment))
            key = f"{spec.column}|{kind}|{moment}" + (f"|{index}" if index else "")
            occurrence = spec if kind == spec.kind else InteractionSpec(
                column=spec.column, position=spec.position, kind=kind, mode=spec.mode,
                date_position=spec.date_position, truthy=spec.truthy, channel=spec.channel)
            interactions.append((occurrence, when, key, cell_text(raw)))
        defaults = {k: v for k, v in self.defaults.items() if k not in data and k not in CONSENT_FIELDS}
        for name in CONSENT_FIELDS:
            if name in self.defaults and name not in consents:
                consents[name] = truthy(self.defaults[name])
        if "source" not in data and self.source:
            defaults.setdefault("source", self.source)
        # An opt-out in the same row wins over an opt-in.
        consents = {k: v for k, v in consents.items() if v and k not in opt_outs}
        return RowPlan(number=number, data=data, interactions=interactions, defaults=defaults,
                        consents=consents, opt_outs=opt_outs, warnings=warnings)

    def _check_identity(self, data: dict[str, Any], warn: Callable[[str, Any, str], None]) -> None:
        """Refuse the row only when nothing identifies it; an invalid email or phone beside
        another identity is left out with a warning."""
        problems: dict[str, str] = {}
        for name, normalise in (("email", normalize_email), ("phone", normalize_phone)):
            if data.get(name):
                try:
                    normalise(data[name])
                except ValidationError as exc:
                    problems[name] = " ".join(exc.messages)
        usable = [name for name in ("email", "phone", "external_ref") if data.get(name) and name not in problems]
        if not usable:
            if problems:
                raise RowError("; ".join(f"{self.column_of.get(name, name)}: {message}" for name, message in problems.items()))
            raise RowError(_("No identity: the row has no email, phone or record ID."))
        for name, message in problems.items():
            warn(self.column_of.get(name, name), data.pop(name), message)

    def _check_fields(self, data: dict[str, Any], warn: Callable[[str, Any, str], None]) -> None:
        """Other contact fields the services would refuse (an unknown industry, a value too long):
        left out with a warning."""
        checked = {k: v for k, v in data.items() if k not in ("email", "phone", "external_ref", "external_source", "tags")}
        try:
            clean_contact_data(checked)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                key = name.removeprefix("attributes.")
                if key != name and key in (data.get("attributes") or {}):
                    # A column kept as an attribute under a custom field's name, with a value of the wrong type.
                    warn(self.column_of.get(name, key), data["attributes"].pop(key), " ".join(messages))
                    continue
                if name in data:
                    value = data.pop(name)
                    warn(self.column_of.get(name, name), value if name != "attributes" else "", " ".join(messages))

    def _when(self, spec: InteractionSpec, cells: Sequence[Any], now: datetime,
              warn: Callable[[str, Any, str], None]) -> tuple[datetime, bool]:
        """The date from the spec's date column, else the import's (dated=False)."""
        day = self.value(cells, spec.date_position) if spec.date_position is not None else None
        if day is None:
            return self.imported_at, False
        column = self.header[spec.date_position]
        when = parse_datetime(day)
        if when is None:
            warn(column, day, _("“%(value)s” is not a date; the import date is used.") % {"value": cell_text(day)})
            return self.imported_at, False
        if when > now + settings.CRM_FUTURE_SKEW:
            warn(column, day, _("%(value)s is in the future; the import date is used.") % {"value": cell_text(day)})
            return self.imported_at, False
        return when, True

    def _occurrences(self, spec: InteractionSpec, raw: Any, cells: Sequence[Any], now: datetime,
                     warn: Callable[[str, Any, str], None]) -> list[tuple[str, datetime, bool, int]]:
        """(kind, when, dated, index) of each interaction one cell stands for."""
        if spec.mode == "date":
            when = parse_datetime(raw)
            if when is None:
                warn(spec.column, raw, _("“%(value)s” is not a date.") % {"value": cell_text(raw)})
                return []
            if when > now + settings.CRM_FUTURE_SKEW:
                warn(spec.column, raw, _("%(value)s is in the future.") % {"value": cell_text(raw)})
                return []
            return [(spec.kind, when, True, 0)]
        if spec.mode in ("flag", "outcome"):
            if not truthy(raw, spec.truthy):
                return []
            return [(spec.kind, *self._when(spec, cells, now, warn), 0)]
        if spec.mode == "activity":
            key = synonyms.norm(raw)
            kind = spec.values[key] if key in spec.values else synonyms.activity_kind(raw, self.kinds)
            if not kind:
                return []  # a value mapped to "ignore" (it stays as the column's attribute)
            return [(kind, *self._when(spec, cells, now, warn), 0)]
        # A count: N interactions, capped (a bot with 10,000 visits does not write 10,000 rows).
        amount = cell_number(raw)
        if amount is None or amount < 0:
            return []  # the number check has warned already
        when, dated = self._when(spec, cells, now, warn)
        return [(spec.kind, when, dated, i) for i in range(min(int(amount), self.count_cap))]

    def reason(self, exc: ValidationError) -> str:
        """A service's ValidationError as one line, naming the file's columns."""
        if not hasattr(exc, "error_dict"):
            return " ".join(exc.messages)
        parts = []
        for name, errors in exc.message_dict.items():
            label = self.column_of.get(name, name)
            parts.append(f"{label}: {' '.join(errors)}")
        return "; ".join(parts)
