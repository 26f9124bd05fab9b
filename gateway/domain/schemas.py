"""Marshmallow schemas for the canonical model's JSON form, strict at every edge."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

from gateway.domain.enums import (
    EpisodeState,
    EthnicityCode,
    EventType,
    Gender,
    LegalStatus,
    PlacementType,
    RiskFactor,
    RiskGrade,
)
from gateway.domain.episode import Episode
from gateway.domain.errors import FieldError, InvalidMessage
from gateway.domain.model import (
    Address,
    Child,
    FoundDetails,
    Notification,
    Person,
    Placement,
    RiskAssessment,
)

NAME_MAX = 35  # NPCC POLE person name length
E164 = r"^\+[1-9][0-9]{6,14}$"


class _Strict(Schema):
    """A schema that rejects unknown keys, so a misspelt field is an error, not silence."""

    class Meta:
        unknown = RAISE


class AddressSchema(_Strict):
    """JSON form of an Address."""

    lines = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list)
    postcode = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=10))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Address:
        """Build the value object."""
        return Address(lines=tuple(data["lines"]), postcode=data["postcode"])


class ChildSchema(_Strict):
    """JSON form of a Child."""

    given_name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    family_name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX))
    date_of_birth = fields.Date(required=True)
    gender = fields.Enum(Gender, by_value=True, load_default=Gender.NOT_KNOWN)
    ethnicity = fields.Enum(EthnicityCode, by_value=True, allow_none=True, load_default=None)
    nhs_number = fields.String(
        allow_none=True, load_default=None, validate=validate.Regexp(r"^[0-9]{10}$")
    )
    council_child_id = fields.String(allow_none=True, load_default=None)
    uasc = fields.Boolean(load_default=False)
    description = fields.String(allow_none=True, load_default=None)
    clothing = fields.String(allow_none=True, load_default=None)
    photograph_ref = fields.String(allow_none=True, load_default=None)
    home_address = fields.Nested(AddressSchema, allow_none=True, load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Child:
        """Build the value object."""
        return Child(**data)


class PlacementSchema(_Strict):
    """JSON form of a Placement."""

    type = fields.Enum(PlacementType, by_value=True, required=True)
    legal_status = fields.Enum(LegalStatus, by_value=True, load_default=LegalStatus.NONE)
    address = fields.Nested(AddressSchema, allow_none=True, load_default=None)
    responsible_authority = fields.String(allow_none=True, load_default=None)
    confidential = fields.Boolean(load_default=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Placement:
        """Build the value object."""
        return Placement(**data)


class RiskAssessmentSchema(_Strict):
    """JSON form of a RiskAssessment."""

    grade = fields.Enum(RiskGrade, by_value=True, required=True)
    assessed_at = fields.AwareDateTime(required=True)
    factors = fields.List(fields.Enum(RiskFactor, by_value=True), load_default=list)
    authorised_by = fields.String(allow_none=True, load_default=None)
    rationale = fields.String(allow_none=True, load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RiskAssessment:
        """Build the value object."""
        return RiskAssessment(**{**data, "factors": tuple(data["factors"])})


class PersonSchema(_Strict):
    """JSON form of a Person (reporter or associate)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=2 * NAME_MAX + 1))
    relationship = fields.String(allow_none=True, load_default=None)
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Regexp(E164))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Person:
        """Build the value object."""
        return Person(**data)


class FoundDetailsSchema(_Strict):
    """JSON form of FoundDetails."""

    found_at = fields.AwareDateTime(required=True)
    found_place = fields.String(allow_none=True, load_default=None)
    found_by = fields.String(allow_none=True, load_default=None)
    returned_to = fields.String(allow_none=True, load_default=None)
    prevention_interview_done = fields.Boolean(load_default=False)
    prevention_interview_reason = fields.String(allow_none=True, load_default=None)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> FoundDetails:
        """Build the value object."""
        return FoundDetails(**data)


class NotificationSchema(_Strict):
    """JSON form of a Notification: the gateway's canonical interchange format."""

    event = fields.Enum(EventType, by_value=True, required=True)
    force = fields.String(required=True, validate=validate.Length(min=1, max=64))
    police_reference = fields.String(required=True, validate=validate.Length(min=1, max=64))
    occurred_at = fields.AwareDateTime(required=True)
    revision = fields.Integer(load_default=1, validate=validate.Range(min=1))
    incident_number = fields.String(allow_none=True, load_default=None)
    child = fields.Nested(ChildSchema, allow_none=True, load_default=None)
    placement = fields.Nested(PlacementSchema, allow_none=True, load_default=None)
    risk = fields.Nested(RiskAssessmentSchema, allow_none=True, load_default=None)
    reported_at = fields.AwareDateTime(allow_none=True, load_default=None)
    last_seen_at = fields.AwareDateTime(allow_none=True, load_default=None)
    last_seen_place = fields.String(allow_none=True, load_default=None)
    last_seen_with = fields.String(allow_none=True, load_default=None)
    missing_from = fields.Nested(AddressSchema, allow_none=True, load_default=None)
    circumstances = fields.String(allow_none=True, load_default=None)
    associates = fields.List(fields.Nested(PersonSchema), load_default=list)
    places_frequented = fields.List(fields.String(), load_default=list)
    reporter = fields.Nested(PersonSchema, allow_none=True, load_default=None)
    previous_episodes = fields.Integer(
        allow_none=True, load_default=None, validate=validate.Range(min=0)
    )
    parents_not_told = fields.Boolean(load_default=False)
    found = fields.Nested(FoundDetailsSchema, allow_none=True, load_default=None)
    summary = fields.String(allow_none=True, load_default=None)
    extra = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Notification:
        """Build the value object."""
        data["associates"] = tuple(data["associates"])
        data["places_frequented"] = tuple(data["places_frequented"])
        return Notification(**data)


_NOTIFICATION_SCHEMA = NotificationSchema()


def notification_to_json(notification: Notification) -> dict[str, Any]:
    """Return the canonical JSON-ready dict of a notification."""
    result: dict[str, Any] = _NOTIFICATION_SCHEMA.dump(notification)
    return result


def notification_from_json(data: dict[str, Any]) -> Notification:
    """Load a notification from its JSON form; raise InvalidMessage with field-level reasons."""
    try:
        result: Notification = _NOTIFICATION_SCHEMA.load(data)
    except ValidationError as exc:
        raise InvalidMessage(list(flatten_validation_errors(exc.messages, data))) from exc
    return result


def flatten_validation_errors(
    messages: Any, data: Any, prefix: str = ""
) -> list[FieldError]:
    """Turn marshmallow's nested message dict into FieldErrors with dotted field paths."""
    found: list[FieldError] = []
    if isinstance(messages, dict):
        for key, sub in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            sub_data = _child_value(data, key)
            found.extend(flatten_validation_errors(sub, sub_data, path))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict | list):
                found.extend(flatten_validation_errors(message, data, prefix))
            else:
                value = None if data is None or isinstance(data, dict | list) else str(data)
                found.append(FieldError(prefix or "document", str(message), value))
    else:
        found.append(FieldError(prefix or "document", str(messages)))
    return found


def _child_value(data: Any, key: Any) -> Any:
    """Return data[key] for dicts and lists, or None when it is not there."""
    if isinstance(data, dict):
        return data.get(key)
    if isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
        return data[key]
    return None


class EpisodeSchema(_Strict):
    """JSON form of an Episode, as the store keeps it."""

    force = fields.String(required=True)
    police_reference = fields.String(required=True)
    state = fields.Enum(EpisodeState, by_value=True, required=True)
    opened_at = fields.AwareDateTime(required=True)
    child = fields.Nested(ChildSchema, allow_none=True, load_default=None)
    placement = fields.Nested(PlacementSchema, allow_none=True, load_default=None)
    risk_history = fields.List(fields.Nested(RiskAssessmentSchema), load_default=list)
    found = fields.Nested(FoundDetailsSchema, allow_none=True, load_default=None)
    closed_at = fields.AwareDateTime(allow_none=True, load_default=None)
    last_revision = fields.Integer(load_default=0)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Episode:
        """Build the episode."""
        return Episode(**data)


_EPISODE_SCHEMA = EpisodeSchema()


def episode_to_json(episode: Episode) -> dict[str, Any]:
    """Return the JSON-ready dict of an episode."""
    result: dict[str, Any] = _EPISODE_SCHEMA.dump(episode)
    return result


def episode_from_json(data: dict[str, Any]) -> Episode:
    """Load an episode from its stored JSON form."""
    result: Episode = _EPISODE_SCHEMA.load(data)
    return result
