"""The mapping engine shared by the police adapters: XPath → canonical field, with value maps.

A *mapping* is plain data (a dict, usually loaded from YAML):

    root: MissingPersonNotification          # accepted root element name(s)
    schema: default                          # validate against the adapter's XSD, or "none"
    forbidden_grades: []                     # canonical RiskGrade values this force refuses
    limits: {max_bytes: 1048576, max_depth: 64, max_elements: 10000}
    fields:
      event: {xpath: "@notificationType", values: {MISSING: MISSING_REPORTED}}
      child.given_name: "Subject/@forename"  # a bare string is the XPath
      associates:                            # a list of records: one XPath per item,
        xpath: "Associates/Associate"        # then sub-fields relative to each item
        fields: {name: "@name", phone: "@telephone"}

Keys of `fields` are canonical dotted paths into `gateway.domain.model.Notification`
(`child.date_of_birth`, `placement.address.postcode`, `extra.<name>` for free extras).
A force's overrides are merged over the defaults as a JSON Merge Patch (RFC 7386): dicts
merge key by key, any other value replaces, and `null` deletes a key. One exception, under
`fields`: an entry that gives an `xpath` (or is a bare XPath string) replaces the default
entry whole, value map included; an entry without one patches the default's (e.g. adds codes).
"""

from __future__ import annotations

import copy
import functools
import re
import types
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields, is_dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Union, get_args, get_origin, get_type_hints

from lxml import etree

from adapters.xml_safety import XmlLimits
from gateway.domain.enums import POLICE_EVENTS, EventType, PlacementType, RiskGrade
from gateway.domain.errors import FieldError
from gateway.domain.model import Notification

NAME_MAX = 35  # NPCC POLE forename / surname length
PERSON_NAME_MAX = 2 * NAME_MAX + 1  # a Person carries one full name: forename, space, surname
TOP_LEVEL_KEYS = frozenset({"root", "schema", "forbidden_grades", "limits", "fields"})
SPEC_KEYS = frozenset({"xpath", "values", "fields"})
SCHEMA_CHOICES = ("default", "none")


class MappingError(ValueError):
    """A mapping table that cannot be used: the list of problems says why."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# --- the canonical field catalogue, read from the model's own type hints -------------------


@dataclass(frozen=True)
class FieldType:
    """What one canonical leaf holds: its kind, enum class or record class."""

    kind: str  # str, int, bool, date, datetime, enum, str_list, enum_list, records, extra
    enum: type[StrEnum] | None = None
    record: type | None = None


def _unwrap_optional(hint: Any) -> Any:
    """Return `X` for `X | None`, else the hint itself."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _leaf_type(hint: Any) -> FieldType | None:
    """Classify a non-dataclass type hint as a FieldType (None if not mappable)."""
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        if isinstance(item, type) and issubclass(item, StrEnum):
            return FieldType("enum_list", enum=item)
        if item is str:
            return FieldType("str_list")
        if is_dataclass(item):
            return FieldType("records", record=item)  # type: ignore[arg-type]
        return None
    if get_origin(hint) is dict:
        return FieldType("extra")
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return FieldType("enum", enum=hint)
    simple = {str: "str", int: "int", bool: "bool", date: "date", datetime: "datetime"}
    # bool is an int subclass, and datetime a date subclass: look the exact type up.
    return FieldType(simple[hint]) if hint in simple else None


def _catalogue(cls: type, prefix: str = "") -> dict[str, FieldType]:
    """Return every mappable dotted path under dataclass `cls` with its FieldType."""
    found: dict[str, FieldType] = {}
    hints = get_type_hints(cls)
    for f in fields(cls):
        path = f"{prefix}{f.name}"
        hint = _unwrap_optional(hints[f.name])
        if is_dataclass(hint):
            found.update(_catalogue(hint, f"{path}."))  # type: ignore[arg-type]
            continue
        leaf = _leaf_type(hint)
        if leaf is not None:
            found[path] = leaf
    return found


CANONICAL_FIELDS: dict[str, FieldType] = _catalogue(Notification)
_GROUPS = frozenset(p.rsplit(".", 1)[0] for p in CANONICAL_FIELDS if "." in p)


def _field_type(path: str) -> FieldType | None:
    """Return the FieldType of a canonical path (`extra.<name>` included), or None."""
    if path.startswith("extra.") and len(path) > len("extra."):
        return FieldType("str")
    found = CANONICAL_FIELDS.get(path)
    return None if found is None or found.kind == "extra" else found


# --- merging and validating mapping tables --------------------------------------------------


def merge_mapping(
    defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return `defaults` with `overrides` merged over them as a JSON Merge Patch (RFC 7386)."""
    result: dict[str, Any] = copy.deepcopy(dict(defaults))
    if not overrides:
        return result
    for key, value in overrides.items():
        if value is None:
            result.pop(key, None)
        elif (
            key == "fields" and isinstance(value, Mapping) and isinstance(result.get(key), Mapping)
        ):
            result[key] = _merge_fields(result[key], value)
        elif isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merge_mapping(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_fields(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge field entries: one that names an xpath replaces the default whole, else patches it.

    So a variant that reads a field from elsewhere brings its own complete code table, while
    one that only adds or drops codes (`values` without `xpath`) keeps the rest.
    """
    result = dict(defaults)
    for path, spec in overrides.items():
        if spec is None:
            result.pop(path, None)
        elif isinstance(spec, str) or (isinstance(spec, Mapping) and "xpath" in spec):
            result[path] = copy.deepcopy(spec)
        elif isinstance(spec, Mapping) and isinstance(result.get(path), Mapping):
            result[path] = merge_mapping(result[path], spec)
        elif isinstance(spec, Mapping) and isinstance(result.get(path), str):
            result[path] = merge_mapping({"xpath": result[path]}, spec)
        else:
            result[path] = copy.deepcopy(spec)
    return result


def _xpath_problem(xpath: Any) -> str | None:
    """Return why `xpath` is not a usable XPath 1.0 expression, or None."""
    if not isinstance(xpath, str) or not xpath.strip():
        return "xpath must be a non-empty string"
    try:
        etree.XPath(xpath)
    except etree.XPathSyntaxError as exc:
        return f"xpath {xpath!r} is not valid XPath: {exc}"
    return None


def _values_problems(where: str, ftype: FieldType, values: Any) -> list[str]:
    """Check one value map: string codes mapping to values the canonical field can hold."""
    if not isinstance(values, Mapping):
        return [f"{where}: values must be a mapping of source code to canonical value"]
    if ftype.kind not in ("str", "enum", "enum_list", "bool", "str_list"):
        return [f"{where}: value maps are not allowed on {ftype.kind} fields"]
    problems: list[str] = []
    for code, target in values.items():
        if not isinstance(code, str):
            problems.append(f"{where}: source code {code!r} is not a string (quote it in YAML)")
        if ftype.enum is not None:
            allowed = [e.value for e in ftype.enum]
            if target not in allowed:
                problems.append(
                    f"{where}: {code!r} maps to {target!r}, not a {ftype.enum.__name__} "
                    f"(one of {', '.join(allowed)})"
                )
        elif ftype.kind == "bool" and not isinstance(target, bool):
            problems.append(f"{where}: {code!r} maps to {target!r}, not true or false")
        elif ftype.kind in ("str", "str_list") and not isinstance(target, str):
            problems.append(f"{where}: {code!r} maps to {target!r}, not a string")
    return problems


def _spec_problems(where: str, path: str, ftype: FieldType | None, spec: Any) -> list[str]:
    """Check one field spec (a bare XPath string or a dict with xpath/values/fields)."""
    if ftype is None:
        if path in _GROUPS or path == "extra":
            return [f"{where}: {path!r} is a group; map its leaf fields instead"]
        return [f"{where}: {path!r} is not a canonical field"]
    if isinstance(spec, str):
        spec = {"xpath": spec}
    if not isinstance(spec, Mapping):
        return [f"{where}: must be an XPath string or a mapping with an xpath"]
    problems = [f"{where}: unknown key {k!r}" for k in spec if k not in SPEC_KEYS]
    xpath_problem = _xpath_problem(spec.get("xpath"))
    if xpath_problem:
        problems.append(f"{where}: {xpath_problem}")
    if "values" in spec:
        problems.extend(_values_problems(where, ftype, spec["values"]))
    if ftype.kind == "records":
        assert ftype.record is not None
        sub = spec.get("fields")
        if not isinstance(sub, Mapping) or not sub:
            problems.append(f"{where}: a list of records needs `fields` for its items")
        else:
            record_fields = _catalogue(ftype.record)
            for name, sub_spec in sub.items():
                problems.extend(
                    _spec_problems(
                        f"{where}.{name}", f"{path}.{name}", record_fields.get(str(name)), sub_spec
                    )
                )
            for required in _required_fields(ftype.record):
                if required not in sub:
                    problems.append(f"{where}: no mapping for required item field {required!r}")
    elif "fields" in spec:
        problems.append(f"{where}: only a list of records takes `fields`")
    return problems


def _required_fields(cls: type) -> list[str]:
    """Return the names of a dataclass's fields that have no default."""
    return [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]


def validate_mapping(mapping: Any) -> list[str]:
    """Return every problem with a complete mapping table (empty when it is usable).

    Checks: known top-level keys, root names, XPath syntax, canonical field names, value maps
    whose targets the canonical field cannot hold, forbidden grades, limits, required fields.
    """
    if not isinstance(mapping, Mapping):
        return ["mapping must be a mapping (dict)"]
    problems = [f"unknown top-level key {k!r}" for k in mapping if k not in TOP_LEVEL_KEYS]
    root = mapping.get("root")
    roots = [root] if isinstance(root, str) else root
    if (
        not isinstance(roots, list)
        or not roots
        or not all(isinstance(r, str) and re.fullmatch(r"[A-Za-z_][\w.-]*", r) for r in roots)
    ):
        problems.append("root: must be an element name or a list of element names")
    if mapping.get("schema", "default") not in SCHEMA_CHOICES:
        problems.append(f"schema: must be one of {', '.join(SCHEMA_CHOICES)}")
    forbidden = mapping.get("forbidden_grades", [])
    if not isinstance(forbidden, list):
        problems.append("forbidden_grades: must be a list of risk grades")
    else:
        allowed = [g.value for g in RiskGrade]
        problems.extend(
            f"forbidden_grades: {g!r} is not a RiskGrade (one of {', '.join(allowed)})"
            for g in forbidden
            if g not in allowed
        )
    limits = mapping.get("limits", {})
    if not isinstance(limits, Mapping):
        problems.append("limits: must be a mapping")
    else:
        known = {f.name for f in fields(XmlLimits)}
        for key, value in limits.items():
            if key not in known:
                problems.append(f"limits: unknown key {key!r}")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"limits.{key}: must be a positive whole number")
    field_specs = mapping.get("fields")
    if not isinstance(field_specs, Mapping):
        problems.append("fields: must be a mapping of canonical field to XPath")
        return problems
    for path, spec in field_specs.items():
        problems.extend(_spec_problems(f"fields.{path}", str(path), _field_type(str(path)), spec))
    for required in _required_fields(Notification):
        if required not in field_specs:
            problems.append(f"fields: no mapping for required field {required!r}")
    return problems


# --- compiled rules --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """One compiled mapping entry: where to read a canonical field and how to convert it."""

    path: str
    ftype: FieldType
    source: str
    xpath: etree.XPath
    values: Mapping[str, Any] | None
    items: tuple[FieldRule, ...] = ()


@dataclass(frozen=True)
class CompiledMapping:
    """A validated mapping ready to apply to parsed documents."""

    root_names: tuple[str, ...]
    schema_enabled: bool
    forbidden_grades: frozenset[RiskGrade]
    limits: XmlLimits
    rules: tuple[FieldRule, ...]
    by_source: Mapping[str, str]  # absolute simple XPath → canonical path (for XSD errors)


def _compile_rule(path: str, ftype: FieldType, spec: Any) -> FieldRule:
    """Compile one (already validated) field spec."""
    if isinstance(spec, str):
        spec = {"xpath": spec}
    items: tuple[FieldRule, ...] = ()
    if ftype.kind == "records":
        assert ftype.record is not None
        record_fields = _catalogue(ftype.record)
        items = tuple(
            _compile_rule(str(name), record_fields[str(name)], sub)
            for name, sub in spec["fields"].items()
        )
    values = spec.get("values")
    return FieldRule(
        path=path,
        ftype=ftype,
        source=spec["xpath"],
        xpath=etree.XPath(spec["xpath"], smart_strings=False),
        values=dict(values) if values is not None else None,
        items=items,
    )


_SIMPLE_XPATH = re.compile(
    r"[A-Za-z_][\w.-]*(/[A-Za-z_][\w.-]*)*(/@[A-Za-z_][\w.-]*)?|@[A-Za-z_][\w.-]*"
)


def _source_index(root: str, rules: tuple[FieldRule, ...]) -> dict[str, str]:
    """Map each plain child-step XPath, made absolute, to the canonical path it feeds."""
    index: dict[str, str] = {}
    for rule in rules:
        if not _SIMPLE_XPATH.fullmatch(rule.source):
            continue
        absolute = f"/{root}/{rule.source}"
        index[absolute] = rule.path
        for item in rule.items:
            if _SIMPLE_XPATH.fullmatch(item.source):
                index[f"{absolute}/{item.source}"] = f"{rule.path}.{item.path}"
    return index


def compile_mapping(mapping: Mapping[str, Any]) -> CompiledMapping:
    """Validate and compile a complete mapping; raise MappingError listing every problem."""
    problems = validate_mapping(mapping)
    if problems:
        raise MappingError(problems)
    root = mapping["root"]
    roots = (root,) if isinstance(root, str) else tuple(root)
    rules = tuple(
        _compile_rule(str(path), _field_type(str(path)), spec)  # type: ignore[arg-type]
        for path, spec in mapping["fields"].items()
    )
    index: dict[str, str] = {}
    for name in roots:
        index.update(_source_index(name, rules))
    return CompiledMapping(
        root_names=roots,
        schema_enabled=mapping.get("schema", "default") == "default",
        forbidden_grades=frozenset(RiskGrade(g) for g in mapping.get("forbidden_grades", [])),
        limits=XmlLimits(**mapping.get("limits", {})),
        rules=rules,
        by_source=index,
    )


# --- extraction and conversion ---------------------------------------------------------------

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# ASCII digits only: `\d` would let full-width or Arabic-Indic digits through.
_DATETIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"T([0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_POSTCODE = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})")
_REPEATED = "is given"
_BOOL = {"true": True, "1": True, "false": False, "0": False}


def _texts(result: Any) -> list[str]:
    """Turn an XPath result into the list of non-empty, NFC-normalised strings it holds."""
    items = result if isinstance(result, list) else [result]
    texts: list[str] = []
    for item in items:
        if isinstance(item, etree._Element):
            text = "".join(str(t) for t in item.itertext())
        elif isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, float):
            text = str(int(item)) if item.is_integer() else str(item)
        else:
            text = str(item)
        # Pretty-printed exports indent multi-line text: keep the lines, drop the indentation.
        lines = unicodedata.normalize("NFC", text).splitlines()
        text = "\n".join(line.strip() for line in lines).strip()
        if text:
            texts.append(text)
    return texts


class _Converter:
    """Converts source strings to canonical values, collecting FieldErrors as it goes."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors

    def fail(self, path: str, message: str, value: str | None) -> None:
        """Record one reason."""
        self.errors.append(FieldError(path, message, value))

    def scalar(
        self, path: str, ftype: FieldType, values: Mapping[str, Any] | None, raw: str
    ) -> Any:
        """Convert one source string; return None (after recording why) when it cannot be."""
        value: Any = raw
        if values is not None:
            if raw not in values:
                codes = ", ".join(sorted(str(k) for k in values))
                self.fail(path, f"is not a known code (expected one of: {codes})", raw)
                return None
            value = values[raw]
        kind = "enum" if ftype.kind == "enum_list" else ftype.kind
        kind = "str" if kind == "str_list" else kind
        converter = _CONVERTERS[kind]
        try:
            return converter(value, ftype)
        except ValueError as exc:
            self.fail(path, str(exc), raw)
            return None


def _to_str(value: Any, _: FieldType) -> str:
    """Return the value as text."""
    return str(value)


def _to_int(value: Any, _: FieldType) -> int:
    """Parse a whole number written in ASCII digits."""
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", str(value)):
        raise ValueError("is not a whole number")
    return int(value)


def _to_bool(value: Any, _: FieldType) -> bool:
    """Parse an XSD boolean (true/false/1/0), or pass through a mapped bool."""
    if isinstance(value, bool):
        return value
    if value not in _BOOL:
        raise ValueError("is not true or false")
    return _BOOL[value]


def _to_date(value: Any, _: FieldType) -> date:
    """Parse an ISO 8601 calendar date (YYYY-MM-DD)."""
    if not _DATE.fullmatch(value):
        raise ValueError("is not a date (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a date") from None


def _to_datetime(value: Any, _: FieldType) -> datetime:
    """Parse an ISO 8601 date-time that carries a UTC offset."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise ValueError("is not an ISO 8601 date-time (expected YYYY-MM-DDThh:mm:ss+hh:mm)")
    if match.group(3) is None:
        raise ValueError("has no UTC offset (ISO 8601 with an offset is required, e.g. +01:00)")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a valid date-time") from None


def _to_enum(value: Any, ftype: FieldType) -> StrEnum:
    """Return the canonical enum member named by its value."""
    assert ftype.enum is not None
    try:
        return ftype.enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in ftype.enum)
        raise ValueError(f"is not a known code (expected one of: {allowed})") from None


_CONVERTERS: dict[str, Callable[[Any, FieldType], Any]] = {
    "str": _to_str,
    "int": _to_int,
    "bool": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
    "enum": _to_enum,
}


# --- per-field rules (NPCC POLE) -------------------------------------------------------------


def _nhs_number_ok(value: str) -> bool:
    """Check an NHS number: ten digits whose modulus 11 check digit is right."""
    if not re.fullmatch(r"[0-9]{10}", value):
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(value[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(value[9])


def _field_rule_errors(generic_path: str, value: Any) -> str | None:
    """Return why `value` breaks the POLE rule for its field, or None (it may be normalised)."""
    leaf = generic_path.rsplit(".", 1)[-1]
    if generic_path in ("child.given_name", "child.family_name") and len(value) > NAME_MAX:
        return f"is {len(value)} characters; names are at most {NAME_MAX} (NPCC POLE)"
    person_name = leaf == "name" and generic_path in ("reporter.name", "associates.name")
    if person_name and len(value) > PERSON_NAME_MAX:
        return f"is {len(value)} characters; a full name is at most {PERSON_NAME_MAX}"
    if leaf == "phone" and not _E164.fullmatch(value):
        return "is not an E.164 phone number (e.g. +441632960001)"
    if generic_path == "child.nhs_number" and not _nhs_number_ok(value):
        return "is not a valid NHS number (ten digits with a correct check digit)"
    if generic_path == "revision" and value < 1:
        return "must be 1 or more"
    if generic_path == "previous_episodes" and value < 0:
        return "must be 0 or more"
    return None


def _normalise_postcode(value: str) -> str | None:
    """Return a UK postcode in its standard form (`CV34 4RL`), or None if it is not one."""
    match = _POSTCODE.fullmatch(re.sub(r"\s+", " ", value.upper()))
    return f"{match.group(1)} {match.group(2)}" if match else None


# --- applying a mapping ----------------------------------------------------------------------


@dataclass
class Extracted:
    """What a mapping read from one document: canonical values, raw strings and errors."""

    values: dict[str, Any]
    raw: dict[str, str]
    errors: list[FieldError]


def _evaluate(rule: FieldRule, context: etree._Element, path: str, conv: _Converter) -> list[str]:
    """Run a rule's XPath, recording an error (and returning nothing) if evaluation fails."""
    try:
        return _texts(rule.xpath(context))
    except etree.XPathError as exc:
        conv.fail(path, f"could not be read (mapping XPath {rule.source!r}: {exc})", None)
        return []


def _read_leaf(
    rule: FieldRule,
    context: etree._Element,
    key: str,
    path: str,
    conv: _Converter,
    out: Extracted,
) -> None:
    """Read one non-record field into `out.values[key]`, naming errors by its full `path`."""
    generic = re.sub(r"\[\d+\]", "", path)
    texts = _evaluate(rule, context, path, conv)
    if not texts:
        return
    if rule.ftype.kind in ("str_list", "enum_list"):
        converted = [
            conv.scalar(f"{path}[{i}]", rule.ftype, rule.values, t) for i, t in enumerate(texts)
        ]
        if all(c is not None for c in converted):
            out.values[key] = tuple(converted)
            out.raw[key] = " | ".join(texts)
        return
    if len(texts) > 1:
        # A repeated group (two <Subject>s) would repeat this for every field: say it once.
        group = path.rsplit(".", 1)[0] if "." in path else path
        if not any(e.field.startswith(group) and _REPEATED in e.message for e in conv.errors):
            conv.fail(path, f"{_REPEATED} {len(texts)} times; expected at most once", texts[1])
        return
    raw = texts[0]
    out.raw[key] = raw
    value = conv.scalar(path, rule.ftype, rule.values, raw)
    if value is None:
        return
    if path.endswith(".postcode"):
        normalised = _normalise_postcode(value)
        if normalised is None:
            conv.fail(path, "is not a UK postcode", raw)
            return
        value = normalised
    problem = _field_rule_errors(generic, value)
    if problem:
        conv.fail(path, problem, raw)
        return
    out.values[key] = value


def extract(mapping: CompiledMapping, root: etree._Element) -> Extracted:
    """Apply every rule of `mapping` to `root`; collect values and every error found."""
    out = Extracted(values={}, raw={}, errors=[])
    conv = _Converter(out.errors)
    for rule in mapping.rules:
        if rule.ftype.kind != "records":
            _read_leaf(rule, root, rule.path, rule.path, conv, out)
            continue
        assert rule.ftype.record is not None
        try:
            items = rule.xpath(root)
        except etree.XPathError as exc:
            conv.fail(rule.path, f"could not be read (mapping XPath {rule.source!r}: {exc})", None)
            continue
        records = []
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, etree._Element):
                continue
            label = f"{rule.path}[{i}]."
            item_out = Extracted(values={}, raw={}, errors=out.errors)
            for sub in rule.items:
                _read_leaf(sub, item, sub.path, f"{label}{sub.path}", conv, item_out)
            out.raw.update({f"{label}{k}": v for k, v in item_out.raw.items()})
            if item_out.values:
                record = _build(rule.ftype.record, "", item_out.values, out.errors, label)
                if record is not None:
                    records.append(record)
        if records:
            out.values[rule.path] = tuple(records)
    return out


def _build(
    cls: type,
    prefix: str,
    values: Mapping[str, Any],
    errors: list[FieldError],
    label: str = "",
) -> Any:
    """Construct dataclass `cls` from the flat `values` under `prefix`; None if none given.

    A group with some fields but not its required ones records `<field>: is required`.
    """
    plan, required = _plan(cls)
    kwargs: dict[str, Any] = {}
    for name, nested in plan:
        path = f"{prefix}{name}"
        if nested is not None:
            sub = _build(nested, f"{path}.", values, errors, label)
            if sub is not None:
                kwargs[name] = sub
        elif name == "extra" and not prefix:
            extra = {k[len("extra.") :]: v for k, v in values.items() if k.startswith("extra.")}
            if extra:
                kwargs[name] = extra
        elif path in values:
            kwargs[name] = values[path]
    if not kwargs and (prefix or label):
        return None
    missing = [
        name
        for name in required
        if name not in kwargs and not _group_failed(f"{label}{prefix}{name}", errors)
    ]
    group = f"{label}{prefix}".rstrip(".")
    for name in missing:
        message = f"is required when {group} is given" if group else "is required"
        errors.append(FieldError(f"{label}{prefix}{name}", message))
    if any(name not in kwargs for name in required):
        return None
    return cls(**kwargs)


@functools.cache
def _plan(cls: type) -> tuple[tuple[tuple[str, type | None], ...], tuple[str, ...]]:
    """Return a dataclass's fields (each with its nested dataclass, if any) and required names.

    Cached: reading type hints is far slower than the parse itself.
    """
    hints = get_type_hints(cls)
    plan: list[tuple[str, type | None]] = []
    for f in fields(cls):
        hint = _unwrap_optional(hints[f.name])
        plan.append((f.name, hint if isinstance(hint, type) and is_dataclass(hint) else None))
    return tuple(plan), tuple(_required_fields(cls))


def _group_failed(path: str, errors: list[FieldError]) -> bool:
    """Say whether `path` already has an error (so 'is required' would only repeat it)."""
    return any(e.field == path or e.field.startswith(f"{path}.") for e in errors)


# --- cross-field checks ----------------------------------------------------------------------

_EVENT_NEEDS: dict[EventType, tuple[str, ...]] = {
    EventType.MISSING_REPORTED: ("child", "risk", "reported_at"),
    # Every regrading is kept with who authorised it and why (DOMAIN.md §2, 002 L198).
    EventType.RISK_REGRADED: ("risk", "risk.authorised_by", "risk.rationale"),
    EventType.FOUND: ("found.found_at",),
}
_NEEDS_ADDRESS = (PlacementType.FOSTER, PlacementType.RESIDENTIAL)


def _present(values: Mapping[str, Any], path: str) -> bool:
    """Say whether `path` or any field under it was read."""
    return any(k == path or k.startswith(f"{path}.") for k in values)


def semantic_errors(
    values: Mapping[str, Any],
    raw: Mapping[str, str],
    errors: list[FieldError],
    forbidden_grades: frozenset[RiskGrade],
) -> list[FieldError]:
    """Return the cross-field problems of one message (DOMAIN.md §2-§3)."""
    found: list[FieldError] = []
    event: EventType | None = values.get("event")
    if event is not None and event not in POLICE_EVENTS:
        found.append(FieldError("event", "is not a police event", raw.get("event")))
    if event is not None:
        missing: list[str] = []
        for need in _EVENT_NEEDS.get(event, ()):
            if any(need.startswith(f"{m}.") for m in missing):
                continue  # its group is already reported missing
            if not _present(values, need) and not _group_failed(need, errors):
                missing.append(need)
                found.append(FieldError(need, f"is required for {event.value}"))
        if (
            event is EventType.FOUND
            and "found.found_at" in values
            and values.get("found.prevention_interview_done") is not True
            and "found.prevention_interview_reason" not in values
            and not _group_failed("found.prevention_interview_reason", errors)
        ):
            # Police record the prevention interview or why it was not done (DOMAIN.md §2).
            found.append(
                FieldError(
                    "found.prevention_interview_reason",
                    "is required for FOUND when the prevention interview was not done",
                )
            )
    reported: datetime | None = values.get("reported_at")
    found_at: datetime | None = values.get("found.found_at")
    last_seen: datetime | None = values.get("last_seen_at")
    if found_at is not None:
        if reported is not None and found_at < reported:
            found.append(
                FieldError(
                    "found.found_at",
                    f"is before the missing report time {reported.isoformat()}",
                    raw.get("found.found_at"),
                )
            )
        elif last_seen is not None and found_at < last_seen:
            found.append(
                FieldError(
                    "found.found_at",
                    f"is before the last seen time {last_seen.isoformat()}",
                    raw.get("found.found_at"),
                )
            )
    dob: date | None = values.get("child.date_of_birth")
    reference: datetime | None = reported or values.get("occurred_at")
    if dob is not None and reference is not None and dob > reference.date():
        found.append(
            FieldError(
                "child.date_of_birth",
                f"is in the future (after the message's time {reference.isoformat()})",
                raw.get("child.date_of_birth"),
            )
        )
    placement_type = values.get("placement.type")
    if placement_type in _NEEDS_ADDRESS:
        if not _present(values, "placement.address") and not _group_failed(
            "placement.address", errors
        ):
            found.append(
                FieldError(
                    "placement.address", f"is required for a {placement_type.value} placement"
                )
            )
        elif "placement.address.postcode" not in values and not _group_failed(
            "placement.address.postcode", errors
        ):
            found.append(
                FieldError(
                    "placement.address.postcode",
                    f"is required for a {placement_type.value} placement (routing reads it)",
                )
            )
    grade = values.get("risk.grade")
    if grade is not None and grade in forbidden_grades:
        refused = ", ".join(sorted(g.value for g in forbidden_grades))
        found.append(
            FieldError(
                "risk.grade",
                f"means {grade.value}, a grade this force does not allow (forbidden: {refused})",
                raw.get("risk.grade"),
            )
        )
    return found


def apply_mapping(
    mapping: CompiledMapping, root: etree._Element
) -> tuple[Notification | None, list[FieldError]]:
    """Read a Notification from `root`; return it (None if any error) and every error found."""
    out = extract(mapping, root)
    errors = out.errors
    notification = _build(Notification, "", out.values, errors)
    errors.extend(semantic_errors(out.values, out.raw, errors, mapping.forbidden_grades))
    if errors:
        return None, errors
    return notification, errors
