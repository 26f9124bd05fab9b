"""Render a notification as minimised canonical JSON, for recipients that read it directly."""

from __future__ import annotations

import json

from adapters.base import Rendered
from gateway.domain.model import Notification
from gateway.domain.schemas import notification_to_json
from routing.minimisation import minimise


class CanonicalJsonAdapter:
    """The plainest case-system rendering: the canonical model as UTF-8 JSON."""

    name = "canonical_json"

    def render(self, notification: Notification, profile: str) -> Rendered:
        """Return the notification's JSON form with the profile's suppressions applied."""
        body = minimise(notification_to_json(notification), profile)
        document = {"schema": "missing-child-notification/1", "profile": profile,
                    "notification": body}
        content = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
        return Rendered(content=content.encode("utf-8"), media_type="application/json",
                        suffix=".json")
