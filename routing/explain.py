"""Render a RoutingDecision as readable text, for `gateway route explain <file>`."""

from __future__ import annotations

from gateway.domain.enums import RecipientRole
from gateway.domain.routing import RoutingDecision


def explain(decision: RoutingDecision) -> str:
    """Return a multi-line account of who gets the notification, how, why, and what is open."""
    lines: list[str] = []
    actions = [r for r in decision.recipients if r.role is RecipientRole.ACTION]
    infos = [r for r in decision.recipients if r.role is RecipientRole.INFORMATION]
    lines.append(
        f"Routing decision: {len(actions)} action cop{'y' if len(actions) == 1 else 'ies'}, "
        f"{len(infos)} for information, {len(decision.items)} coordinator "
        f"item{'' if len(decision.items) == 1 else 's'}"
    )
    for title, group in (("Action copies", actions), ("Information copies", infos)):
        if not group:
            continue
        lines.append("")
        lines.append(f"{title}:")
        for r in group:
            lines.append(f"  - {r.authority} / {r.team}")
            lines.append(
                f"      channel: {r.channel.kind} {r.channel.address} "
                f"(rendering {r.channel.rendering}, encryption {r.channel.encryption})"
            )
            lines.append(f"      data profile: {r.profile}")
            lines.append(f"      why: {r.reason}")
    if decision.items:
        lines.append("")
        lines.append("Coordinator items:")
        for item in decision.items:
            where = f" [{item.authority}]" if item.authority else ""
            lines.append(f"  - {item.kind}{where}: {item.message}")
    if not decision.recipients:
        lines.append("")
        lines.append(
            "Nobody can be sent this notification automatically: it is held for a "
            "coordinator, never dropped."
        )
    if decision.explanation:
        lines.append("")
        lines.append("How this was worked out:")
        lines.extend(f"  {n}" for n in decision.explanation)
    return "\n".join(lines) + "\n"
