"""Read the directory from YAML at start-up, or report every problem with file, key and reason.

Layout of a config root (see config/authorities/README.md):

    <root>/authorities/*.yaml   one council per file
    <root>/forces/*.yaml        one police force per file
    <root>/defaults.yaml        rule defaults; if absent, <root>/../defaults.yaml is used, so
                                config/demo shares config/defaults.yaml with config/ itself

Defaults are merged under each file (mappings merge key by key, lists replace). Folder channel
addresses are kept as written: relative paths are resolved by the service under its data dir.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from gateway.domain.enums import RiskGrade
from gateway.domain.routing import Channel
from routing.directory import (
    CASE_SYSTEMS,
    NATIONS,
    TEAMS,
    Authority,
    AuthorityRules,
    CaseSystem,
    Directory,
    Force,
    Nation,
    OfficeHours,
    OnForbidden,
    RepeatThreshold,
    RhiClockStart,
    RhiRules,
    RiskRules,
)

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GRADES = [g.value for g in RiskGrade]
_TIME = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="must be HH:MM (24-hour clock)")
_SLUG = validate.Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", error="must be a lower-case slug")


@dataclass(frozen=True)
class ConfigProblem:
    """One reason the directory cannot be loaded: which file, which key, what is wrong."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        """Render as `file: key: reason`, the form `gateway config check` prints."""
        return f"{self.file}: {self.key}: {self.reason}"


class DirectoryError(Exception):
    """The directory config is invalid; `problems` lists every reason."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ChannelSchema(_Strict):
    """A team's channel (gateway.domain.routing.Channel)."""

    kind = fields.String(required=True, validate=validate.OneOf(["folder", "sftp", "smtp"]))
    address = fields.String(required=True, validate=validate.Length(min=1))
    rendering = fields.String()
    encryption = fields.String(validate=validate.OneOf(["cms", "pgp", "none"]))
    certificate = fields.String(allow_none=True)
    options = fields.Dict(keys=fields.String(), values=fields.String())

    @validates_schema
    def _check_address(self, data: dict[str, Any], **_: Any) -> None:
        kind, address = data.get("kind"), data.get("address", "")
        if kind == "sftp" and not address.startswith("sftp://"):
            raise ValidationError("an sftp address must start with sftp://", "address")
        if kind == "smtp" and "@" not in address:
            raise ValidationError("an smtp address must be a mailbox (name@domain)", "address")
        if data.get("encryption", "cms") != "none" and not data.get("certificate"):
            raise ValidationError(
                "a certificate is required unless encryption is 'none'", "certificate"
            )


class TeamsSchema(_Strict):
    """The channels of an authority's teams; only the front door is required."""

    front_door = fields.Nested(ChannelSchema, required=True)
    edt = fields.Nested(ChannelSchema)
    missing_coordinator = fields.Nested(ChannelSchema)
    rhi_service = fields.Nested(ChannelSchema)
    iro_service = fields.Nested(ChannelSchema)
    youth_justice = fields.Nested(ChannelSchema)


class OfficeHoursSchema(_Strict):
    """Days and local times the front door answers."""

    days = fields.List(fields.String(validate=validate.OneOf(DAY_NAMES)))
    start = fields.String(validate=_TIME)
    end = fields.String(validate=_TIME)

    @validates_schema
    def _check_order(self, data: dict[str, Any], **_: Any) -> None:
        if "start" in data and "end" in data and data["start"] >= data["end"]:
            raise ValidationError("must be after start", "end")


class RiskSchema(_Strict):
    """Risk vocabulary of an authority or force."""

    allowed_grades = fields.List(
        fields.String(validate=validate.OneOf(_GRADES)), validate=validate.Length(min=1)
    )
    on_forbidden = fields.String(validate=validate.OneOf(["hold", "flag"]))
    nar_cap_hours = fields.Integer(allow_none=True, validate=validate.Range(min=1))


class RhiSchema(_Strict):
    """Return Home Interview settings."""

    clock_start = fields.String(validate=validate.OneOf(["return", "found_notice"]))
    hours = fields.Integer(validate=validate.Range(min=1))
    required_grades_not_looked_after = fields.List(fields.String(validate=validate.OneOf(_GRADES)))
    does_rhi_for_placed_in = fields.Boolean()


class RepeatSchema(_Strict):
    """One repeat-missing trigger."""

    count = fields.Integer(required=True, validate=validate.Range(min=1))
    days = fields.Integer(required=True, validate=validate.Range(min=1))
    item = fields.String(required=True, validate=validate.Length(min=1))


class HighOtherSchema(_Strict):
    """A duration for high risk and for any other grade."""

    high = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    other = fields.Float(validate=validate.Range(min=0, min_inclusive=False))


class RulesSchema(_Strict):
    """Per-authority rule settings (DOMAIN.md §3-§5)."""

    risk = fields.Nested(RiskSchema)
    rhi = fields.Nested(RhiSchema)
    repeat_missing = fields.List(fields.Nested(RepeatSchema))
    strategy_discussion_hours = fields.Nested(HighOtherSchema)
    ack_hours = fields.Nested(HighOtherSchema)
    police_notice_hours = fields.Integer(validate=validate.Range(min=1))
    first_update_hours = fields.Integer(validate=validate.Range(min=1))
    update_interval_days = fields.Integer(validate=validate.Range(min=1))


class AuthoritySchema(_Strict):
    """One file of <root>/authorities/."""

    id = fields.String(required=True, validate=_SLUG)
    name = fields.String(required=True, validate=validate.Length(min=1))
    gss_code = fields.String(
        required=True, validate=validate.Regexp(r"^[ENSW]\d{8}$", error="must be a GSS code")
    )
    la_code = fields.String(
        required=True, validate=validate.Regexp(r"^\d{3}$", error="must be a 3-digit DfE code")
    )
    nation = fields.String(validate=validate.OneOf(NATIONS))
    case_system = fields.String(required=True, validate=validate.OneOf(CASE_SYSTEMS))
    protocol = fields.String()
    aliases = fields.List(fields.String(validate=validate.Length(min=1)))
    teams = fields.Nested(TeamsSchema, required=True)
    office_hours = fields.Nested(OfficeHoursSchema)
    rules = fields.Nested(RulesSchema)


class ForceSchema(_Strict):
    """One file of <root>/forces/."""

    id = fields.String(required=True, validate=_SLUG)
    name = fields.String(required=True, validate=validate.Length(min=1))
    adapter = fields.String(required=True, validate=validate.OneOf(["compact", "niche"]))
    aliases = fields.List(fields.String(validate=validate.Length(min=1)))
    risk = fields.Nested(RiskSchema)
    mapping = fields.Dict(keys=fields.String())
    feedback_channel = fields.Nested(ChannelSchema, required=True)
    area_authorities = fields.List(fields.String(validate=_SLUG))
    # Where the gateway pulls this force's files from (SFTP); checked in full by
    # `gateway config check` (gateway.intake.sftp_poller.check_pull_sections).
    pull = fields.Dict(keys=fields.String())
    # The force's signing certificate: signed and encrypted messages from it are verified.
    certificate = fields.String(validate=validate.Length(min=1))


class DefaultsSchema(_Strict):
    """defaults.yaml: values merged under every authority and force file."""

    authority = fields.Nested(
        Schema.from_dict(
            {
                "nation": fields.String(validate=validate.OneOf(NATIONS)),
                "office_hours": fields.Nested(OfficeHoursSchema),
                "rules": fields.Nested(RulesSchema),
            }
        )(unknown=RAISE)
    )
    force = fields.Nested(Schema.from_dict({"risk": fields.Nested(RiskSchema)})(unknown=RAISE))


def load_directory(root: Path) -> Directory:
    """Load and check the directory under `root`; raise DirectoryError listing every problem."""
    directory, problems = _load(Path(root))
    if problems or directory is None:
        raise DirectoryError(problems)
    return directory


def check_directory(root: Path) -> list[ConfigProblem]:
    """Return every problem of the directory under `root` (empty when it loads cleanly)."""
    return _load(Path(root))[1]


def defaults_path(root: Path) -> Path:
    """Return the defaults file used for `root`: root/defaults.yaml, else root/../defaults.yaml."""
    own = root / "defaults.yaml"
    return own if own.exists() else root.parent / "defaults.yaml"


def _load(root: Path) -> tuple[Directory | None, list[ConfigProblem]]:
    problems: list[ConfigProblem] = []
    if not (root / "authorities").is_dir():
        problems.append(ConfigProblem(str(root), "authorities/", "folder not found"))
    if not (root / "forces").is_dir():
        problems.append(ConfigProblem(str(root), "forces/", "folder not found"))
    defaults_file = defaults_path(root)
    defaults: dict[str, Any] = {}
    if defaults_file.exists():
        defaults = _read(defaults_file, DefaultsSchema(), problems) or {}
    authority_data = [
        (path, _read(path, AuthoritySchema(), problems))
        for path in sorted((root / "authorities").glob("*.yaml"))
    ]
    force_data = [
        (path, _read(path, ForceSchema(), problems))
        for path in sorted((root / "forces").glob("*.yaml"))
    ]
    authorities: list[Authority] = []
    for path, data in authority_data:
        if data is not None:
            merged = _merge(cast(dict[str, Any], defaults.get("authority", {})), data)
            authorities.append(_authority(merged))
            _check_file_name(path, data["id"], problems)
    forces: list[Force] = []
    # An authority file with problems is reported once, not again by every force naming it.
    known = {a.id for a in authorities} | {path.stem for path, _ in authority_data}
    for path, data in force_data:
        if data is None:
            continue
        force = _force(_merge(cast(dict[str, Any], defaults.get("force", {})), data))
        forces.append(force)
        _check_file_name(path, force.id, problems)
        for i, authority_id in enumerate(force.area_authorities):
            if authority_id not in known:
                problems.append(
                    ConfigProblem(
                        str(path), f"area_authorities.{i}", f"unknown authority {authority_id!r}"
                    )
                )
    try:
        directory = Directory.build(authorities, forces)
    except ValueError as exc:
        problems.append(ConfigProblem(str(root), "authorities", str(exc)))
        return None, problems
    return directory, problems


# libyaml's safe loader when present (several times faster); the pure-Python one otherwise.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path, schema: Schema, problems: list[ConfigProblem]) -> dict[str, Any] | None:
    """Parse and validate one YAML file, appending its problems; return the data if valid."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        problems.append(ConfigProblem(str(path), "(file)", f"cannot read YAML: {exc}"))
        return None
    if not isinstance(raw, dict):
        problems.append(ConfigProblem(str(path), "(file)", "must be a YAML mapping"))
        return None
    try:
        return cast(dict[str, Any], schema.load(raw))
    except ValidationError as exc:
        for key, reason in _flatten(exc.messages):
            problems.append(ConfigProblem(str(path), key, reason))
        return None


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Turn marshmallow's nested messages into (dotted.key, reason) pairs."""
    if isinstance(messages, Mapping):
        out: list[tuple[str, str]] = []
        for key, value in messages.items():
            name = "(file)" if key == "_schema" else str(key)
            out.extend(_flatten(value, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(messages, list):
        return [(prefix or "(file)", str(m)) for m in messages]
    return [(prefix or "(file)", str(messages))]


def _check_file_name(path: Path, ident: str, problems: list[ConfigProblem]) -> None:
    if path.stem != ident:
        problems.append(ConfigProblem(str(path), "id", f"must match the file name {path.stem!r}"))


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge mappings: `over` wins; nested mappings merge; lists are replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _channel(data: Mapping[str, Any], default_rendering: str) -> Channel:
    return Channel(
        kind=data["kind"],
        address=data["address"],
        rendering=data.get("rendering", default_rendering),
        encryption=data.get("encryption", "cms"),
        certificate=data.get("certificate"),
        options=tuple(sorted(data.get("options", {}).items())),
    )


def _rendering_for(case_system: str) -> str:
    """Return the default rendering of a team's copies: the authority's case system's own."""
    return case_system


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _office_hours(data: Mapping[str, Any]) -> OfficeHours:
    default = OfficeHours()
    return OfficeHours(
        days=(
            frozenset(DAY_NAMES.index(d) for d in data["days"]) if "days" in data else default.days
        ),
        start=_hhmm(data["start"]) if "start" in data else default.start,
        end=_hhmm(data["end"]) if "end" in data else default.end,
    )


def _risk(data: Mapping[str, Any]) -> RiskRules:
    default = RiskRules()
    return RiskRules(
        allowed_grades=(
            frozenset(RiskGrade(g) for g in data["allowed_grades"])
            if "allowed_grades" in data
            else default.allowed_grades
        ),
        on_forbidden=cast(OnForbidden, data.get("on_forbidden", default.on_forbidden)),
        nar_cap_hours=data.get("nar_cap_hours", default.nar_cap_hours),
    )


def _rhi(data: Mapping[str, Any]) -> RhiRules:
    default = RhiRules()
    grades = data.get("required_grades_not_looked_after")
    return RhiRules(
        clock_start=cast(RhiClockStart, data.get("clock_start", default.clock_start)),
        hours=data.get("hours", default.hours),
        required_grades_not_looked_after=(
            frozenset(RiskGrade(g) for g in grades)
            if grades is not None
            else default.required_grades_not_looked_after
        ),
        does_rhi_for_placed_in=data.get("does_rhi_for_placed_in", default.does_rhi_for_placed_in),
    )


def _rules(data: Mapping[str, Any]) -> AuthorityRules:
    default = AuthorityRules()
    strategy = data.get("strategy_discussion_hours", {})
    ack = data.get("ack_hours", {})
    return AuthorityRules(
        risk=_risk(data.get("risk", {})),
        rhi=_rhi(data.get("rhi", {})),
        repeat_missing=tuple(
            RepeatThreshold(count=r["count"], days=r["days"], item=r["item"])
            for r in data.get("repeat_missing", [])
        ),
        strategy_discussion_hours_high=int(
            strategy.get("high", default.strategy_discussion_hours_high)
        ),
        strategy_discussion_hours_other=int(
            strategy.get("other", default.strategy_discussion_hours_other)
        ),
        ack_hours_high=float(ack.get("high", default.ack_hours_high)),
        ack_hours_other=float(ack.get("other", default.ack_hours_other)),
        police_notice_hours=data.get("police_notice_hours", default.police_notice_hours),
        first_update_hours=data.get("first_update_hours", default.first_update_hours),
        update_interval_days=data.get("update_interval_days", default.update_interval_days),
    )


def _authority(data: Mapping[str, Any]) -> Authority:
    rendering = _rendering_for(data["case_system"])
    return Authority(
        id=data["id"],
        name=data["name"],
        gss_code=data["gss_code"],
        la_code=data["la_code"],
        nation=cast(Nation, data.get("nation", "england")),
        case_system=cast(CaseSystem, data["case_system"]),
        aliases=tuple(data.get("aliases", ())),
        teams=MappingProxyType(
            {
                team: _channel(data["teams"][team], rendering)
                for team in TEAMS
                if team in data["teams"]
            }
        ),
        office_hours=_office_hours(data.get("office_hours", {})),
        rules=_rules(data.get("rules", {})),
        protocol=data.get("protocol"),
    )


def _force(data: Mapping[str, Any]) -> Force:
    return Force(
        id=data["id"],
        name=data["name"],
        adapter=data["adapter"],
        risk=_risk(data.get("risk", {})),
        mapping=MappingProxyType(dict(data.get("mapping", {}))),
        feedback_channel=_channel(data["feedback_channel"], "canonical_json"),
        area_authorities=tuple(data.get("area_authorities", ())),
        aliases=tuple(data.get("aliases", ())),
        pull=MappingProxyType(dict(data["pull"])) if "pull" in data else None,
        certificate=data.get("certificate"),
    )
