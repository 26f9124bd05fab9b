"""The directory loader: the demo config loads; bad files are reported by file, key, reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.domain.enums import RiskGrade
from routing.directory_loader import (
    ConfigProblem,
    DirectoryError,
    check_directory,
    defaults_path,
    load_directory,
)
from tests.unit.routing.routing_fakes import DEMO_ROOT

# (id, GSS upper-tier code, DfE LA code) of every demo council.
DEMO_CODES = [
    ("halton", "E06000006", "876"),
    ("warrington", "E06000007", "877"),
    ("cheshire-east", "E06000049", "895"),
    ("cheshire-west-and-chester", "E06000050", "896"),
    ("medway", "E06000035", "887"),
    ("kent", "E10000016", "886"),
    ("north-east-lincolnshire", "E06000012", "812"),
    ("warwickshire", "E10000031", "937"),
    ("derby", "E06000015", "831"),
    ("derbyshire", "E10000007", "830"),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A writable copy of config/demo with the shared defaults beside it."""
    shutil.copytree(DEMO_ROOT, tmp_path / "demo")
    shutil.copy(DEMO_ROOT.parent / "defaults.yaml", tmp_path / "defaults.yaml")
    return tmp_path / "demo"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(("ident", "gss", "la"), DEMO_CODES)
def test_demo_authorities_have_real_codes(ident: str, gss: str, la: str) -> None:
    directory = load_directory(DEMO_ROOT)
    authority = directory.authorities[ident]
    assert (authority.gss_code, authority.la_code, authority.nation) == (gss, la, "england")
    assert directory.by_gss(gss) is authority


def test_demo_forces_and_their_areas() -> None:
    directory = load_directory(DEMO_ROOT)
    assert set(directory.forces) == {
        "cheshire-constabulary",
        "kent-police",
        "humberside-police",
        "warwickshire-police",
        "derbyshire-constabulary",
    }
    assert directory.forces["humberside-police"].adapter == "niche"
    assert directory.forces["kent-police"].area_authorities == ("kent", "medway")
    assert directory.forces["humberside-police"].risk.allowed_grades == {
        RiskGrade.MEDIUM,
        RiskGrade.HIGH,
    }
    feedback = directory.forces["kent-police"].feedback_channel
    assert feedback is not None
    assert feedback.kind == "folder"


def test_demo_check_finds_no_problem() -> None:
    assert check_directory(DEMO_ROOT) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Kent County Council", "kent"),
        ("KCC", "kent"),
        ("kent", "kent"),
        ("Cheshire West & Chester", "cheshire-west-and-chester"),
        ("CHESHIRE WEST AND CHESTER COUNCIL", "cheshire-west-and-chester"),
        ("Derby City Council", "derby"),
        ("Derbyshire County Council", "derbyshire"),
        ("NE Lincs", "north-east-lincolnshire"),
        ("E10000031", "warwickshire"),
        ("937", "warwickshire"),
        ("Halton Borough Council", "halton"),
    ],
)
def test_names_police_use_resolve(name: str, expected: str) -> None:
    authority = load_directory(DEMO_ROOT).resolve(name)
    assert authority is not None
    assert authority.id == expected


def test_unknown_names_do_not_resolve() -> None:
    directory = load_directory(DEMO_ROOT)
    assert directory.resolve("Birmingham City Council") is None
    assert directory.resolve("") is None
    assert directory.resolve(None) is None


def test_rules_are_per_authority_with_defaults_underneath() -> None:
    directory = load_directory(DEMO_ROOT)
    warks = directory.authorities["warwickshire"].rules
    assert warks.rhi.clock_start == "found_notice"
    assert warks.rhi.does_rhi_for_placed_in is True
    assert [(r.count, r.days) for r in warks.repeat_missing] == [(3, 90), (6, 90), (9, 90)]
    assert warks.risk.allowed_grades == {RiskGrade.MEDIUM, RiskGrade.HIGH}
    derby = directory.authorities["derby"].rules
    assert derby.risk.nar_cap_hours == 24
    assert derby.risk.on_forbidden == "flag"
    assert derby.rhi.required_grades_not_looked_after == {RiskGrade.MEDIUM, RiskGrade.HIGH}
    halton = directory.authorities["halton"].rules
    assert [(r.count, r.days, r.item) for r in halton.repeat_missing] == [
        (3, 30, "trigger_1_meeting"),
        (9, 90, "trigger_2_meeting"),
    ]
    # From config/defaults.yaml: not restated in halton.yaml.
    assert halton.ack_hours_high == 1.0
    assert halton.update_interval_days == 5


def test_channels_render_their_case_system_unless_they_name_a_rendering(root: Path) -> None:
    directory = load_directory(DEMO_ROOT)
    assert directory.authorities["warwickshire"].teams["edt"].rendering == "mosaic"
    assert directory.authorities["kent"].teams["front_door"].rendering == "secure_mail"
    assert directory.authorities["kent"].teams["front_door"].address == "drop/kent/front_door"
    edit(
        root / "authorities" / "derby.yaml",
        "kind: folder",
        "kind: folder\n    rendering: canonical_json",
    )
    teams = load_directory(root).authorities["derby"].teams
    assert teams["front_door"].rendering == "canonical_json"
    assert teams["edt"].rendering == "liquidlogic"


def test_defaults_come_from_the_parent_when_the_root_has_none(root: Path) -> None:
    assert defaults_path(root) == root.parent / "defaults.yaml"
    (root / "defaults.yaml").write_text("authority:\n  rules:\n    ack_hours: {high: 2}\n")
    assert defaults_path(root) == root / "defaults.yaml"
    assert load_directory(root).authorities["kent"].rules.ack_hours_high == 2.0


def problems_of(root: Path) -> list[tuple[str, str, str]]:
    return [(Path(p.file).name, p.key, p.reason) for p in check_directory(root)]


def test_unknown_key_is_rejected_with_file_and_key(root: Path) -> None:
    edit(root / "authorities" / "kent.yaml", "case_system:", "colour: blue\ncase_system:")
    assert problems_of(root) == [("kent.yaml", "colour", "Unknown field.")]


def test_bad_nested_value_names_the_dotted_key(root: Path) -> None:
    edit(root / "authorities" / "derby.yaml", "on_forbidden: flag", "on_forbidden: shrug")
    [(file, key, reason)] = problems_of(root)
    assert (file, key) == ("derby.yaml", "rules.risk.on_forbidden")
    assert "hold" in reason


def test_bad_grade_and_bad_time_are_both_reported(root: Path) -> None:
    path = root / "authorities" / "medway.yaml"
    edit(path, "NO_APPARENT_RISK, MEDIUM", "NO_APPARENT_RISK, SEVERE")
    edit(path, 'start: "09:00"', 'start: "9am"')
    keys = {key for _, key, _ in problems_of(root)}
    assert keys == {"rules.risk.allowed_grades.1", "office_hours.start"}


def test_missing_front_door_is_a_problem(root: Path) -> None:
    path = root / "authorities" / "halton.yaml"
    text = path.read_text()
    start = text.index("  front_door:")
    end = text.index("  edt:")
    path.write_text(text[:start] + text[end:])
    assert problems_of(root) == [
        ("halton.yaml", "teams.front_door", "Missing data for required field.")
    ]


def test_encrypted_channel_needs_a_certificate(root: Path) -> None:
    edit(root / "authorities" / "kent.yaml",
         "    certificate: keys/pki/parties/kent-enc.pem\n", "")
    [(file, key, reason)] = problems_of(root)
    assert (file, key) == ("kent.yaml", "teams.front_door.certificate")
    assert "certificate" in reason


def test_sftp_address_must_be_a_url(root: Path) -> None:
    edit(root / "authorities" / "kent.yaml", "kind: folder", "kind: sftp")
    assert problems_of(root) == [
        ("kent.yaml", "teams.front_door.address", "an sftp address must start with sftp://")
    ]


def test_duplicate_gss_code_is_a_problem(root: Path) -> None:
    edit(root / "authorities" / "derby.yaml", "E06000015", "E10000007")
    [(_, _, reason)] = problems_of(root)
    assert "E10000007" in reason
    assert "derby" in reason


def test_id_must_match_the_file_name(root: Path) -> None:
    edit(root / "authorities" / "derby.yaml", "id: derby", "id: derby-city")
    assert ("derby.yaml", "id", "must match the file name 'derby'") in problems_of(root)


def test_force_with_unknown_area_authority(root: Path) -> None:
    edit(root / "forces" / "kent-police.yaml", "[kent, medway]", "[kent, medway, surrey]")
    assert problems_of(root) == [
        ("kent-police.yaml", "area_authorities.2", "unknown authority 'surrey'")
    ]


def test_broken_yaml_is_a_problem_not_a_crash(root: Path) -> None:
    (root / "forces" / "kent-police.yaml").write_text("id: [unclosed\n")
    [(file, key, reason)] = problems_of(root)
    assert (file, key) == ("kent-police.yaml", "(file)")
    assert reason.startswith("cannot read YAML")


def test_load_raises_with_every_problem(root: Path) -> None:
    edit(root / "authorities" / "kent.yaml", 'la_code: "886"', 'la_code: "88"')
    edit(root / "authorities" / "medway.yaml", "gss_code: E06000035", "gss_code: X1")
    with pytest.raises(DirectoryError) as caught:
        load_directory(root)
    problems = caught.value.problems
    assert {(Path(p.file).name, p.key) for p in problems} == {
        ("kent.yaml", "la_code"),
        ("medway.yaml", "gss_code"),
    }
    assert "kent.yaml: la_code: must be a 3-digit DfE code" in str(caught.value)


def test_missing_folders_are_problems(tmp_path: Path) -> None:
    problems = check_directory(tmp_path)
    assert ConfigProblem(str(tmp_path), "authorities/", "folder not found") in problems
    assert ConfigProblem(str(tmp_path), "forces/", "folder not found") in problems


def test_rule_helpers_pick_by_grade_and_care_status() -> None:
    directory = load_directory(DEMO_ROOT)
    derby = directory.authorities["derby"].rules
    assert derby.rhi.required(looked_after=False, grade=RiskGrade.HIGH)
    assert not derby.rhi.required(looked_after=False, grade=RiskGrade.LOW)
    assert derby.rhi.required(looked_after=True, grade=RiskGrade.LOW)
    warks = directory.authorities["warwickshire"].rules
    assert warks.strategy_discussion_hours(RiskGrade.HIGH) == 48
    assert warks.strategy_discussion_hours(RiskGrade.MEDIUM) == 72
    assert warks.ack_hours(RiskGrade.HIGH) == 1.0
    assert warks.ack_hours(None) == 4.0
