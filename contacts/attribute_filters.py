"""Conditions on a contact's imported attributes (the `attributes` JSON), the same on SQLite
and PostgreSQL: `attributes.<key>` (equals), or `attributes.<key>__<op>` with op one of

    eq, ne, gte, lte, contains, is_set, is_blank

Semantics (contacts.selectors.ContactFilter applies them to the contact list, the export,
the API and saved segments alike):
- eq / ne: case-insensitive text equality; when the value is a number, a stored JSON number or
  numeric string ("12", " 12.0 ") equal to it matches too. `ne` also matches contacts without
  the attribute.
- gte / lte: a number compares with stored numbers and numeric strings as numbers (text that is
  not a number never matches); an ISO date (2024-05-01) compares with stored ISO date strings.
- contains: case-insensitive substring of the value as text.
- is_set: present, not null and not blank text; is_blank: the opposite (value "true", or
  "false" to invert).

Everything is one SQL expression per condition (no per-row queries); the key is bound as a
parameter (PostgreSQL) or a quoted JSON path (SQLite), never spliced into the SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, DecimalField, Expression, F, Q, TextField, Value, When
from django.db.models.fields.json import compile_json_path
from django.db.models.functions import Trim
from django.db.models.lookups import Exact, GreaterThanOrEqual, IContains, IExact, LessThanOrEqual, Regex
from django.utils.translation import gettext_lazy as _

PREFIX = "attributes."
OPERATORS = ("eq", "ne", "gte", "lte", "contains", "is_set", "is_blank")
OPERATOR_LABELS = {
    "eq": _("is"),
    "ne": _("is not"),
    "gte": _("is at least"),
    "lte": _("is at most"),
    "contains": _("contains"),
    "is_set": _("is set"),
    "is_blank": _("is blank"),
}
# Imported column names: letters, digits, spaces and a little punctuation; no quotes or JSON-path syntax.
KEY_RE = re.compile(r"^[\w][\w .\-/]{0,99}$")
NUMBER_RE = re.compile(r"^ *[-+]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30}) *$")
# The same pattern for the database (ASCII classes only: PostgreSQL ARE and Python re agree).
SQL_NUMBER_RE = r"^ *[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+) *$"
ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.+\-Z]*)?$")
SQL_ISO_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
TRUE_WORDS = {"1", "true", "yes", "on", "y", "ya"}
FALSE_WORDS = {"0", "false", "no", "off", "n", "tidak"}
MAX_VALUE_LENGTH = 200


@dataclass(frozen=True)
class AttributeCondition:
    key: str
    op: str
    value: object  # str, Decimal (numeric gte/lte/eq), or bool (is_set/is_blank)


def parse_param(name: str) -> tuple[str, str] | None:
    """"attributes.plan__gte" -> ("plan", "gte"); "attributes.plan" -> ("plan", "eq");
    anything not starting with "attributes." -> None. Raises ValidationError for a bad key."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX):]
    key, op = rest, "eq"
    if "__" in rest:
        head, _sep, tail = rest.rpartition("__")
        if tail in OPERATORS:
            key, op = head, tail
    if not KEY_RE.match(key):
        raise ValidationError(_("Name an attribute with letters, digits, spaces, “_”, “-”, “.” or “/”."), code="invalid")
    return key, op


def param_name(key: str, op: str) -> str:
    return f"{PREFIX}{key}" if op == "eq" else f"{PREFIX}{key}__{op}"


def as_number(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    if isinstance(value, str) and NUMBER_RE.match(value):
        return Decimal(value.strip())
    return None


def clean_value(op: str, value) -> object:
    """The value of one condition, checked for its operator; ValidationError otherwise."""
    if op in ("is_set", "is_blank"):
        if value is True or value is None or (isinstance(value, str) and value.strip().lower() in TRUE_WORDS | {""}):
            return True
        if value is False or (isinstance(value, str) and value.strip().lower() in FALSE_WORDS):
            return False
        raise ValidationError(_("Use “true” or “false”."), code="invalid")
    if isinstance(value, (dict, list)) or value is None:
        raise ValidationError(_("Give one value (text or a number)."), code="invalid")
    text = ("true" if value else "false") if isinstance(value, bool) else str(value).strip()
    if not text:
        raise ValidationError(_("Give a value."), code="required")
    if len(text) > MAX_VALUE_LENGTH:
        raise ValidationError(_("At most %(n)d characters.") % {"n": MAX_VALUE_LENGTH}, code="max_length")
    if "\x00" in text:
        raise ValidationError(_("Null characters are not allowed."), code="invalid")
    if op in ("gte", "lte"):
        number = as_number(text)
        if number is not None:
            return number
        if ISO_DATE_RE.match(text):
            return text
        raise ValidationError(_("Give a number or a date (YYYY-MM-DD) to compare with."), code="invalid")
    return text


# --- SQL expressions ------------------------------------------------------------------------

class _AttributeExpression(Expression):
    """Base: one key of contacts.attributes. Subclasses give the SQL per vendor."""

    def __init__(self, key: str, output_field=None):
        super().__init__(output_field=output_field)
        self.key = key
        self.source = F("attributes")

    def get_source_expressions(self):
        return [self.source]

    def set_source_expressions(self, exprs):
        (self.source,) = exprs

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        clone = self.copy()
        clone.is_summary = summarize
        clone.source = self.source.resolve_expression(query, allow_joins, reuse, summarize, for_save)
        return clone

    def _lhs(self, compiler, connection):
        return compiler.compile(self.source)

    def as_sql(self, compiler, connection):
        raise NotImplementedError(f"{type(self).__name__} supports SQLite and PostgreSQL")

    @staticmethod
    def _fill(template: str, lhs: str, lhs_params, values: dict[str, object]) -> tuple[str, list]:
        """Replace {lhs} and {name} placeholders in order, collecting the parameters."""
        params: list = []

        def replace(match):
            name = match.group(1)
            if name == "lhs":
                params.extend(lhs_params)
                return lhs
            params.append(values[name])
            return "%s"

        return re.sub(r"\{(\w+)\}", replace, template), params


class AttributeType(_AttributeExpression):
    """The JSON type of the value: number, string, boolean, null, object, array; NULL when missing."""

    def __init__(self, key: str):
        super().__init__(key, output_field=TextField())

    def as_postgresql(self, compiler, connection):
        lhs, params = self._lhs(compiler, connection)
        return self._fill("jsonb_typeof({lhs} -> {key})", lhs, params, {"key": self.key})

    def as_sqlite(self, compiler, connection):
        lhs, params = self._lhs(compiler, connection)
        return self._fill(
            "(CASE JSON_TYPE({lhs}, {path}) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
            "WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' "
            "ELSE JSON_TYPE({lhs}, {path}) END)",
            lhs, params, {"path": compile_json_path([self.key])},
        )


class AttributeText(_AttributeExpression):
    """The value as text: strings as stored, numbers as digits, booleans "true"/"false";
    NULL for null or a missing key."""

    def __init__(self, key: str):
        super().__init__(key, output_field=TextField())

    def as_postgresql(self, compiler, connection):
        lhs, params = self._lhs(compiler, connection)
        return self._fill("({lhs} ->> {key})", lhs, params, {"key": self.key})

    def as_sqlite(self, compiler, connection):
        lhs, params = self._lhs(compiler, connection)
        return self._fill(
            "(CASE JSON_TYPE({lhs}, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN NULL "
            "ELSE CAST(JSON_EXTRACT({lhs}, {path}) AS TEXT) END)",
            lhs, params, {"path": compile_json_path([self.key])},
        )


class AttributeNumber(_AttributeExpression):
    """The value as a number when it is a JSON number or a numeric string; otherwise NULL."""

    def __init__(self, key: str):
        super().__init__(key, output_field=DecimalField())

    def as_postgresql(self, compiler, connection):
        lhs, params = self._lhs(compiler, connection)
        # numeric, not float8: any JSON number fits, and the comparison value is bound as numeric.
        return self._fill(
            "(CASE WHEN jsonb_typeof({lhs} -> {k1}) = 'number' THEN ({lhs} ->> {k2})::numeric "
            "WHEN jsonb_typeof({lhs} -> {k3}) = 'string' AND ({lhs} ->> {k4}) ~ {pattern} "
            "THEN btrim({lhs} ->> {k5})::numeric END)",
            lhs, params, {"k1": self.key, "k2": self.key, "k3": self.key, "k4": self.key, "k5": self.key,
                          "pattern": SQL_NUMBER_RE},
        )

    def as_sqlite(self, compiler, connection):
        lhs, params = self._lhs(compiler, connection)
        path = compile_json_path([self.key])
        # The outer CAST gives the expression REAL affinity, so a bound value compares as a number.
        return self._fill(
            "CAST((CASE WHEN JSON_TYPE({lhs}, {p1}) IN ('integer', 'real') THEN JSON_EXTRACT({lhs}, {p2}) "
            "WHEN JSON_TYPE({lhs}, {p3}) = 'text' AND JSON_EXTRACT({lhs}, {p4}) REGEXP {pattern} "
            "THEN TRIM(JSON_EXTRACT({lhs}, {p5})) END) AS REAL)",
            lhs, params, {"p1": path, "p2": path, "p3": path, "p4": path, "p5": path, "pattern": SQL_NUMBER_RE},
        )


def _is_set(key: str) -> Q:
    kind, text = AttributeType(key), AttributeText(key)
    filled_text = Q(Exact(kind, "string")) & ~Q(Exact(Trim(text), ""))
    return Q(Exact(kind, "number")) | Q(Exact(kind, "boolean")) | Q(Exact(kind, "object")) | Q(Exact(kind, "array")) | filled_text


def _equals(key: str, value: object) -> Q:
    number = as_number(value)
    condition = Q(IExact(AttributeText(key), str(value)))
    if number is not None:
        condition |= Q(Exact(AttributeNumber(key), number))
    return condition


def _as_boolean(condition: Q) -> Case:
    """TRUE/FALSE, never NULL, so that "not" keeps rows where the attribute is missing."""
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def condition_q(condition: AttributeCondition) -> Q:
    """The WHERE clause of one condition."""
    key, op, value = condition.key, condition.op, condition.value
    if op == "eq":
        return _equals(key, value)
    if op == "ne":
        return Q(Exact(_as_boolean(_equals(key, value)), False))
    if op == "contains":
        return Q(IContains(AttributeText(key), str(value)))
    if op in ("is_set", "is_blank"):
        want_set = bool(value) if op == "is_set" else not value
        return Q(Exact(_as_boolean(_is_set(key)), want_set))
    if op in ("gte", "lte"):
        compare = GreaterThanOrEqual if op == "gte" else LessThanOrEqual
        if isinstance(value, Decimal):
            return Q(compare(AttributeNumber(key), value))
        text = AttributeText(key)
        return Q(Regex(text, SQL_ISO_DATE_RE)) & Q(compare(text, str(value)))
    raise ValueError(f"unknown operator {op!r}")
