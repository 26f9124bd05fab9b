"""Mapping tables: validation for `gateway config check`, merging, and variants by config alone."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.compact import CompactAdapter
from adapters.compact.adapter import DEFAULT_MAPPING as COMPACT_MAPPING
from adapters.niche import NicheAdapter
from adapters.niche.adapter import DEFAULT_MAPPING as NICHE_MAPPING
from adapters.police_mapping import (
    CANONICAL_FIELDS,
    MappingError,
    compile_mapping,
    merge_mapping,
    validate_mapping,
)
from gateway.domain.enums import EventType, Gender, RiskGrade
from gateway.domain.errors import InvalidMessage

FIXTURES = Path(__file__).parent / "fixtures"


def _with(mapping: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Return a copy of `mapping` with some field entries replaced."""
    changed = copy.deepcopy(mapping)
    changed["fields"].update(fields)
    return changed


@pytest.mark.parametrize("mapping", [COMPACT_MAPPING, NICHE_MAPPING], ids=["compact", "niche"])
def test_shipped_default_mappings_are_valid(mapping: dict[str, Any]) -> None:
    assert validate_mapping(mapping) == []


@pytest.mark.parametrize("mapping", [COMPACT_MAPPING, NICHE_MAPPING], ids=["compact", "niche"])
def test_shipped_mappings_cover_every_canonical_field(mapping: dict[str, Any]) -> None:
    mappable = {p for p, t in CANONICAL_FIELDS.items() if t.kind != "extra"}
    assert mappable - set(mapping["fields"]) == set()


def test_bad_xpath_is_reported() -> None:
    problems = validate_mapping(_with(COMPACT_MAPPING, summary="Narrative[["))
    assert len(problems) == 1
    assert problems[0].startswith("fields.summary: xpath 'Narrative[[' is not valid XPath")


def test_unknown_canonical_field_and_group_are_reported() -> None:
    problems = validate_mapping(
        _with(COMPACT_MAPPING, **{"child.shoe_size": "Subject/@shoe", "child": "Subject"})
    )
    assert problems == [
        "fields.child.shoe_size: 'child.shoe_size' is not a canonical field",
        "fields.child: 'child' is a group; map its leaf fields instead",
    ]


def test_value_map_to_a_non_enum_value_is_reported() -> None:
    bad = {"xpath": "Risk/@level", "values": {"Low": "LOW", "Severe": "SEVERE"}}
    problems = validate_mapping(_with(COMPACT_MAPPING, **{"risk.grade": bad}))
    assert problems == [
        "fields.risk.grade: 'Severe' maps to 'SEVERE', not a RiskGrade "
        "(one of NO_APPARENT_RISK, LOW, MEDIUM, HIGH)"
    ]


def test_yaml_booleans_as_codes_are_caught() -> None:
    # Unquoted Y/N in YAML are booleans: a value map keyed by them would never match.
    loaded = yaml.safe_load("values: {yes: true, no: false}")["values"]
    spec = {"xpath": "x", "values": loaded}
    problems = validate_mapping(_with(NICHE_MAPPING, **{"child.uasc": spec}))
    assert problems == [
        "fields.child.uasc: source code True is not a string (quote it in YAML)",
        "fields.child.uasc: source code False is not a string (quote it in YAML)",
    ]


def test_other_structural_problems_are_all_listed() -> None:
    mapping = copy.deepcopy(COMPACT_MAPPING)
    mapping["schema"] = "strict"
    mapping["forbidden_grades"] = ["ABSENT"]
    mapping["limits"] = {"max_bytes": 0, "max_widgets": 3}
    mapping["colour"] = "blue"
    del mapping["fields"]["police_reference"]
    mapping["fields"]["revision"] = {"xpath": "@revision", "values": {"one": 1}}
    mapping["fields"]["associates"] = {"xpath": "Report/Associate", "fields": {"phone": "@t"}}
    assert validate_mapping(mapping) == [
        "unknown top-level key 'colour'",
        "schema: must be one of default, none",
        "forbidden_grades: 'ABSENT' is not a RiskGrade (one of NO_APPARENT_RISK, LOW, MEDIUM, "
        "HIGH)",
        "limits.max_bytes: must be a positive whole number",
        "limits: unknown key 'max_widgets'",
        "fields.revision: value maps are not allowed on int fields",
        "fields.associates: no mapping for required item field 'name'",
        "fields: no mapping for required field 'police_reference'",
    ]


def test_compile_refuses_an_invalid_mapping() -> None:
    with pytest.raises(MappingError) as caught:
        compile_mapping({"root": "X", "fields": {}})
    assert "fields: no mapping for required field 'event'" in caught.value.problems


def test_merge_is_a_json_merge_patch_with_whole_field_replacement() -> None:
    defaults: dict[str, Any] = {
        "root": "A",
        "forbidden_grades": ["LOW"],
        "fields": {
            "risk.grade": {"xpath": "g", "values": {"L": "LOW", "H": "HIGH"}},
            "summary": "s",
            "force": "f",
        },
    }
    merged = merge_mapping(
        defaults,
        {
            "forbidden_grades": [],
            "fields": {
                "risk.grade": {"values": {"L": None, "HI": "HIGH"}},  # patch the code table
                "summary": {"xpath": "Notes"},  # a new xpath: replace the entry
                "force": None,  # drop it
            },
        },
    )
    assert merged == {
        "root": "A",
        "forbidden_grades": [],
        "fields": {
            "risk.grade": {"xpath": "g", "values": {"H": "HIGH", "HI": "HIGH"}},
            "summary": {"xpath": "Notes"},
        },
    }
    assert defaults["fields"]["risk.grade"]["values"] == {"L": "LOW", "H": "HIGH"}


def test_a_renamed_element_niche_variant_is_parsed_with_an_override_dict_alone() -> None:
    raw = (FIXTURES / "niche" / "variant_renamed_elements.xml").read_bytes()
    overrides = json.loads(
        (FIXTURES / "niche" / "variant_renamed_elements.overrides.json").read_text("utf-8")
    )
    adapter = NicheAdapter()
    with pytest.raises(InvalidMessage):
        adapter.parse(raw)
    assert adapter.check_overrides(overrides) == []
    n = adapter.parse(raw, overrides)
    assert n.event is EventType.MISSING_REPORTED
    assert n.police_reference == "HU/26/0104411"
    assert n.child is not None
    assert (n.child.given_name, n.child.family_name) == ("Łucja", "Nowak")
    assert n.child.date_of_birth == date(2012, 5, 5)
    assert n.child.gender is Gender.FEMALE  # ISO 5218 "2" through the variant's code table
    assert n.risk is not None
    assert n.risk.grade is RiskGrade.HIGH
    assert n.placement is not None
    assert n.placement.address is not None
    assert n.placement.address.postcode == "DN32 7QE"


def test_the_variant_is_also_checked_by_its_forbidden_grades() -> None:
    raw = (FIXTURES / "niche" / "variant_renamed_elements.xml").read_bytes()
    overrides = json.loads(
        (FIXTURES / "niche" / "variant_renamed_elements.overrides.json").read_text("utf-8")
    )
    with pytest.raises(InvalidMessage) as caught:
        NicheAdapter().parse(raw.replace(b"<Level>HIGH<", b"<Level>LOW<"), overrides)
    assert [e.field for e in caught.value.errors] == ["risk.grade"]


def test_check_overrides_reports_problems_in_a_forces_mapping_section() -> None:
    adapter = CompactAdapter()
    assert adapter.check_overrides(None) == []
    assert adapter.check_overrides({"forbidden_grades": ["LOW"]}) == []
    assert adapter.check_overrides({"fields": {"risk.grade": {"values": {"Nil": "NONE"}}}}) == [
        "fields.risk.grade: 'Nil' maps to 'NONE', not a RiskGrade "
        "(one of NO_APPARENT_RISK, LOW, MEDIUM, HIGH)"
    ]
    assert adapter.check_overrides(["not", "a", "dict"]) == [  # type: ignore[arg-type]
        "mapping overrides must be a mapping (dict)"
    ]


def test_parse_with_invalid_overrides_is_a_configuration_error_not_invalid_input() -> None:
    raw = (FIXTURES / "compact" / "missing_reported_basic.xml").read_bytes()
    with pytest.raises(MappingError):
        CompactAdapter().parse(raw, {"forbidden_grades": ["NEVER"]})
    with pytest.raises(MappingError):
        CompactAdapter().parse(raw, ["not", "a", "dict"])  # type: ignore[arg-type]


def test_forbidden_grades_come_from_the_forces_overrides() -> None:
    raw = (FIXTURES / "compact" / "missing_no_apparent_risk.xml").read_bytes()
    adapter = CompactAdapter()
    assert adapter.parse(raw).risk is not None
    with pytest.raises(InvalidMessage) as caught:
        adapter.parse(raw, {"forbidden_grades": ["NO_APPARENT_RISK", "LOW"]})
    assert [str(e) for e in caught.value.errors] == [
        "risk.grade: 'No apparent risk' means NO_APPARENT_RISK, a grade this force does not "
        "allow (forbidden: LOW, NO_APPARENT_RISK)"
    ]


def test_compiled_overrides_are_cached_per_distinct_dict() -> None:
    adapter = CompactAdapter()
    first = adapter.mapping_for({"forbidden_grades": ["LOW"]})
    assert adapter.mapping_for({"forbidden_grades": ["LOW"]}) is first
    assert adapter.mapping_for({"forbidden_grades": ["HIGH"]}) is not first
    assert adapter.mapping_for(None) is adapter.mapping_for({})


@pytest.mark.parametrize("adapter", [CompactAdapter(), NicheAdapter()], ids=lambda a: a.name)
def test_mapping_examples_in_the_format_readme_are_valid(adapter: CompactAdapter) -> None:
    readme = Path(adapters_dir(adapter.name), "README.md").read_text("utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        section = yaml.safe_load(block)["mapping"]
        assert adapter.check_overrides(section) == [], block


def adapters_dir(name: str) -> Path:
    """Return the folder of one adapter package."""
    return Path(__file__).resolve().parents[3] / "adapters" / name
