"""The common body of the XML police adapters: safe parse, XSD, mapping, collected errors."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from adapters.police_mapping import (
    CompiledMapping,
    MappingError,
    apply_mapping,
    compile_mapping,
    merge_mapping,
    validate_mapping,
)
from adapters.xml_safety import DOCUMENT, load_trusted_xml, parse_document
from gateway.domain.errors import FieldError, InvalidMessage
from gateway.domain.model import Notification

_SCHEMA_MESSAGE = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: (.*)$", re.DOTALL)
_VALUE_FIRST = re.compile(r"^'((?:[^']|'(?! ))*)' (.*)$", re.DOTALL)
_MISSING_ATTRIBUTE = re.compile(r"The attribute '([^']+)' is required")
_INDEX = re.compile(r"\[\d+\]")
_CACHE_SIZE = 64
MAX_REASONS = 100  # a hostile document could otherwise make a quarantine record of any size


def load_default_mapping(path: Path) -> dict[str, Any]:
    """Read an adapter's shipped default mapping table (YAML) at start-up."""
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.safe_load(handle)
    if not isinstance(loaded, dict):
        raise MappingError([f"{path}: not a mapping"])
    return loaded


class PoliceXmlAdapter:
    """Parses one XML police format through a mapping table and the format's XSD.

    Subclasses set `name` and pass their default mapping and XSD path. `parse` takes the
    sending force's mapping overrides (the `mapping:` section of its config file).
    """

    name: str = ""

    def __init__(self, default_mapping: Mapping[str, Any], xsd_path: Path) -> None:
        self.default_mapping = dict(default_mapping)
        self._xsd_doc = load_trusted_xml(str(xsd_path))
        self._local = threading.local()
        self._compiled: OrderedDict[str, CompiledMapping] = OrderedDict()
        self._lock = threading.Lock()
        self._default = compile_mapping(self.default_mapping)

    def check_overrides(self, overrides: Mapping[str, Any] | None) -> list[str]:
        """Return the problems of a force's overrides merged over this adapter's defaults."""
        if overrides is not None and not isinstance(overrides, Mapping):
            return ["mapping overrides must be a mapping (dict)"]
        return validate_mapping(merge_mapping(self.default_mapping, overrides))

    def mapping_for(self, overrides: Mapping[str, Any] | None) -> CompiledMapping:
        """Return the compiled mapping for these overrides (cached); MappingError if unusable."""
        if not overrides:
            return self._default
        if not isinstance(overrides, Mapping):
            raise MappingError(["mapping overrides must be a mapping (dict)"])
        key = json.dumps(overrides, sort_keys=True, default=repr)
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                self._compiled.move_to_end(key)
                return found
        compiled = compile_mapping(merge_mapping(self.default_mapping, overrides))
        with self._lock:
            self._compiled[key] = compiled
            while len(self._compiled) > _CACHE_SIZE:
                self._compiled.popitem(last=False)
        return compiled

    def _schema(self) -> etree.XMLSchema:
        """Return this thread's XMLSchema (its error log is per instance, so not shared)."""
        schema: etree.XMLSchema | None = getattr(self._local, "schema", None)
        if schema is None:
            schema = etree.XMLSchema(self._xsd_doc)
            self._local.schema = schema
        return schema

    def parse(self, raw: bytes, overrides: Mapping[str, Any] | None = None) -> Notification:
        """Parse one message; raise InvalidMessage listing every field-level reason."""
        mapping = self.mapping_for(overrides)
        root = parse_document(raw, mapping.root_names, mapping.limits)
        schema_errors = self.schema_errors(root, mapping) if mapping.schema_enabled else []
        notification, errors = apply_mapping(mapping, root)
        seen = {_INDEX.sub("", e.field) for e in errors}
        errors.extend(e for e in schema_errors if _INDEX.sub("", e.field) not in seen)
        if errors or notification is None:
            raise InvalidMessage(_capped(errors) or [FieldError(DOCUMENT, "could not be read")])
        return notification

    def schema_errors(self, root: etree._Element, mapping: CompiledMapping) -> list[FieldError]:
        """Validate `root` against the format's XSD; name each error's canonical field."""
        schema = self._schema()
        if schema.validate(root):
            return []
        entries: list[Any] = list(schema.error_log)  # type: ignore[call-overload]
        return [_schema_error(entry, root, mapping) for entry in entries]


def _capped(errors: list[FieldError]) -> list[FieldError]:
    """Keep the first MAX_REASONS reasons and say how many more there were."""
    if len(errors) <= MAX_REASONS:
        return errors
    more = len(errors) - MAX_REASONS
    return [*errors[:MAX_REASONS], FieldError(DOCUMENT, f"has {more} more problems not listed")]


def _field_of_element(root: etree._Element, path: str, mapping: CompiledMapping) -> str | None:
    """Return the canonical field whose rule reads the element at `path`, if any does."""
    try:
        hits = root.xpath(path)
    except etree.XPathError:
        return None
    if not isinstance(hits, list) or len(hits) != 1:
        return None
    target = hits[0]
    if not isinstance(target, etree._Element):
        return None
    for rule in mapping.rules:
        try:
            found = rule.xpath(root)
            if rule.items and isinstance(found, list):
                items = [item for item in found if isinstance(item, etree._Element)]
                for i, item in enumerate(items):
                    for sub in rule.items:
                        sub_found = sub.xpath(item)
                        if isinstance(sub_found, list) and target in sub_found:
                            return f"{rule.path}[{i}].{sub.path}"
            elif isinstance(found, list) and target in found:
                return rule.path
        except etree.XPathError:
            continue
    return None


def _schema_error(entry: Any, root: etree._Element, mapping: CompiledMapping) -> FieldError:
    """Turn one libxml2 schema error into a FieldError on the canonical field it concerns."""
    text = str(entry.message).strip()
    element_path = _INDEX.sub("", str(entry.path or ""))
    attribute: str | None = None
    rest = text
    matched = _SCHEMA_MESSAGE.match(text)
    if matched:
        attribute, rest = matched.group(2), matched.group(3)
    missing = _MISSING_ATTRIBUTE.search(rest)
    if attribute is None and missing:
        attribute = missing.group(1)
    value: str | None = None
    first = _VALUE_FIRST.match(rest)
    if first:
        value, rest = first.group(1), first.group(2)
    if attribute:
        where = f"{element_path}/@{attribute}"
        field = mapping.by_source.get(where)
    else:
        where = element_path
        field = _field_of_element(root, str(entry.path or ""), mapping)
    where = f"{where}: " if field is None else ""
    message = f"{where}{rest.rstrip('.')} (schema, line {entry.line})"
    return FieldError(field or DOCUMENT, message, value)
