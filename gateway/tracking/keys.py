"""Which child an episode is about, as a stable key across episodes and forces."""

from __future__ import annotations

import re

from gateway.domain.model import Child


def child_key(child: Child | None, authority: str | None = None) -> str | None:
    """Return the child's key: council child id, else NHS number, else name and birth date.

    A council child id is only unique within its council, so it is qualified by the
    authority that owns the case; an NHS number is national.
    """
    if child is None:
        return None
    if child.council_child_id and child.council_child_id.strip():
        return f"cid:{authority or '?'}:{child.council_child_id.strip().upper()}"
    if child.nhs_number:
        digits = re.sub(r"\D", "", child.nhs_number)
        if len(digits) == 10:
            return f"nhs:{digits}"
    name = _fold(f"{child.given_name} {child.family_name}")
    return f"pd:{name}:{child.date_of_birth.isoformat()}"[:160]


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^\w ]+", " ", text.casefold()).split())
