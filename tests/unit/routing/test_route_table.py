"""Table of routing cases, each citing the protocol paragraph it checks (DOMAIN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pytest

from gateway.domain.enums import EventType, LegalStatus, PlacementType, RecipientRole, RiskGrade
from gateway.domain.model import Notification
from gateway.domain.routing import Channel, RoutingDecision
from routing.directory import Directory
from routing.recipients import EpisodeHistory, PriorRecipient, route
from tests.unit.routing.routing_fakes import (
    FakePostcodes,
    child,
    demo_directory,
    notification,
    placement,
)

A, I = RecipientRole.ACTION, RecipientRole.INFORMATION  # noqa: E741 (table shorthand)


def _with_other_nations() -> Directory:
    """The demo directory plus a Scottish and a Welsh council (responsible for children here)."""
    demo = demo_directory()
    template = demo.authorities["warwickshire"]
    extra = []
    for ident, name, gss, la, nation in (
        ("city-of-edinburgh", "City of Edinburgh Council", "S12000036", "101", "scotland"),
        ("cardiff", "Cardiff Council", "W06000015", "102", "wales"),
    ):
        teams = {
            team: Channel(kind="folder", address=f"drop/{ident}/{team}", encryption="none")
            for team in ("front_door", "edt", "missing_coordinator", "iro_service")
        }
        extra.append(
            replace(
                template,
                id=ident,
                name=name,
                gss_code=gss,
                la_code=la,
                nation=nation,  # type: ignore[arg-type]
                aliases=(),
                teams=teams,
            )
        )
    return Directory.build([*demo.authorities.values(), *extra], list(demo.forces.values()))


DIRECTORY = _with_other_nations()


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


TUE_11 = utc(2026, 3, 10, 11, 0)  # Tuesday, office hours (GMT)
TUE_22 = utc(2026, 3, 10, 22, 0)  # Tuesday night
SAT_11 = utc(2026, 3, 14, 11, 0)  # Saturday


@dataclass(frozen=True)
class Case:
    cite: str
    name: str
    notification: Notification
    expected: frozenset[tuple[str, str, RecipientRole]]
    items: frozenset[str] = frozenset()
    now: datetime = TUE_11
    history: EpisodeHistory | None = None
    reason_has: tuple[tuple[str, str, str], ...] = ()  # (authority, team, text in reason)
    reason_lacks: str | None = None  # text that must appear in no reason


def rset(*triples: tuple[str, str, RecipientRole]) -> frozenset[tuple[str, str, RecipientRole]]:
    return frozenset(triples)


def lac(
    postcode: str | None,
    responsible: str | None,
    *,
    force: str = "warwickshire-police",
    event: EventType = EventType.MISSING_REPORTED,
    legal: LegalStatus = LegalStatus.S31,
    confidential: bool = False,
    born: date = date(2011, 5, 1),
    missing_from: str | None = None,
    grade: RiskGrade = RiskGrade.MEDIUM,
    extra: dict[str, str] | None = None,
    when: datetime = TUE_11,
) -> Notification:
    return notification(
        event,
        force=force,
        kid=child(born=born),
        place=placement(postcode, responsible, legal=legal, confidential=confidential),
        missing_from=missing_from,
        grade=grade,
        extra=extra,
        when=when,
    )


def home(
    postcode: str | None,
    *,
    force: str = "warwickshire-police",
    missing_from: str | None = None,
    event: EventType = EventType.MISSING_REPORTED,
    grade: RiskGrade = RiskGrade.MEDIUM,
) -> Notification:
    return notification(
        event,
        force=force,
        kid=child(home=postcode),
        place=placement(None, None, type_=PlacementType.HOME, legal=LegalStatus.NONE),
        missing_from=missing_from,
        grade=grade,
    )


def office(authority: str) -> frozenset[tuple[str, str, RecipientRole]]:
    """Front door action plus the missing coordinator's copy, as in office hours."""
    return rset((authority, "front_door", A), (authority, "missing_coordinator", I))


def after_hours(authority: str) -> frozenset[tuple[str, str, RecipientRole]]:
    """EDT action plus next-working-day front door copy and the coordinator's copy."""
    return rset(
        (authority, "edt", A),
        (authority, "front_door", I),
        (authority, "missing_coordinator", I),
    )


def host_info(authority: str, *, rhi: bool) -> frozenset[tuple[str, str, RecipientRole]]:
    out = {(authority, "missing_coordinator", I)}
    if rhi:
        out.add((authority, "rhi_service", I))
    return frozenset(out)


def iro(authority: str) -> frozenset[tuple[str, str, RecipientRole]]:
    return rset((authority, "iro_service", I))


NIGHT_HISTORY = EpisodeHistory(
    recipients=(
        PriorRecipient("kent", "edt", A),
        PriorRecipient("kent", "front_door", I),
        PriorRecipient("kent", "missing_coordinator", I),
        PriorRecipient("kent", "iro_service", I),
        PriorRecipient("medway", "missing_coordinator", I),
    )
)

CASES: list[Case] = [
    # --- child missing from home -------------------------------------------------------
    Case(
        "000 §5.3.5",
        "home: office hours go to the front door",
        home("CV34 4RL"),
        office("warwickshire"),
        reason_has=(("warwickshire", "front_door", "home address postcode CV34 4RL"),),
    ),
    Case(
        "000 §6.2.11",
        "home: weeknight goes to EDT with next-day front door copy",
        home("CV34 4RL"),
        after_hours("warwickshire"),
        now=TUE_22,
        reason_has=(("warwickshire", "front_door", "Wed 11 Mar 2026 09:00"),),
    ),
    Case(
        "000 §6.2.11",
        "home: Saturday goes to EDT, front door copy for Monday",
        home("CV34 4RL"),
        after_hours("warwickshire"),
        now=SAT_11,
        reason_has=(("warwickshire", "front_door", "Mon 16 Mar 2026 09:00"),),
    ),
    Case(
        "002 L266",
        "home: Humberside report to North East Lincolnshire",
        home("DN31 1HU", force="humberside-police", grade=RiskGrade.HIGH),
        office("north-east-lincolnshire"),
    ),
    Case(
        "000 §5.3.5",
        "home: Pan-Cheshire child goes to Halton",
        home("WA7 5TD", force="cheshire-constabulary"),
        office("halton"),
    ),
    Case(
        "004 L223-224",
        "home: Derby child goes to Derby, not Derbyshire",
        home("DE1 2FS", force="derbyshire-constabulary"),
        office("derby"),
    ),
    Case(
        "000 §5.3.5",
        "home: no home postcode, missing-from postcode used",
        home(None, missing_from="ME4 4TR", force="kent-police"),
        office("medway"),
        reason_has=(("medway", "front_door", "missing-from postcode ME4 4TR"),),
    ),
    Case(
        "000 §5.3.5",
        "home: unknown home postcode, missing-from used, item raised",
        home("ZZ9 9ZZ", missing_from="CT1 2HX", force="kent-police"),
        office("kent"),
        items=frozenset({"postcode_unresolved"}),
    ),
    Case(
        "003 L121-123",
        "home: malformed postcode, force has one authority: routed there",
        home("NOT A PC", force="humberside-police", grade=RiskGrade.HIGH),
        office("north-east-lincolnshire"),
        items=frozenset({"postcode_unresolved"}),
    ),
    Case(
        "DESIGN §4 nothing silent",
        "home: no postcode at all in a four-council force",
        home(None, force="cheshire-constabulary"),
        frozenset(),
        items=frozenset({"no_route"}),
    ),
    Case(
        "DESIGN §4 nothing silent",
        "home: authority not in directory, item raised",
        home("B1 1BB", force="cheshire-constabulary"),
        frozenset(),
        items=frozenset({"unknown_authority", "no_route"}),
    ),
    Case(
        "DESIGN §4 nothing silent",
        "home: lives in Wales, item raised",
        home("LL11 1AY", force="cheshire-constabulary"),
        frozenset(),
        items=frozenset({"outside_england", "no_route"}),
    ),
    # --- looked-after children ---------------------------------------------------------
    Case(
        "000 §6.2.11",
        "in care, placed inside its own authority: no host copy",
        lac("CV34 4RL", "Warwickshire County Council"),
        office("warwickshire") | iro("warwickshire"),
    ),
    Case(
        "000 §6.2.3",
        "placed out of area: responsible acts, host for information",
        lac("CV34 4RL", "Kent County Council"),
        office("kent") | iro("kent") | host_info("warwickshire", rhi=True),
        reason_has=(
            (
                "warwickshire",
                "missing_coordinator",
                "placement postcode CV34 4RL is in Warwickshire",
            ),
            ("warwickshire", "missing_coordinator", "000 §6.2.3"),
        ),
    ),
    Case(
        "001 L324",
        "placed in Medway, which does not do RHIs for placed-in children",
        lac("ME4 4TR", "Derby City Council", force="kent-police"),
        office("derby") | iro("derby") | host_info("medway", rhi=False),
    ),
    Case(
        "003 L490",
        "placed in Warwickshire, which does RHIs for placed-in children",
        lac("CV11 4AB", "Derbyshire", force="warwickshire-police"),
        office("derbyshire") | iro("derbyshire") | host_info("warwickshire", rhi=True),
        reason_has=(("warwickshire", "rhi_service", "003 L490"),),
    ),
    Case(
        "000 §6.2.12",
        "placed in Cheshire West by Halton: host informed",
        lac("CH1 2HS", "Halton", force="cheshire-constabulary"),
        office("halton") | iro("halton") | host_info("cheshire-west-and-chester", rhi=True),
    ),
    Case(
        "000 §6.2.11",
        "placed out of area at night: responsible EDT, host still informed",
        lac("CV34 4RL", "KCC"),
        after_hours("kent") | iro("kent") | host_info("warwickshire", rhi=True),
        now=TUE_22,
    ),
    Case(
        "001 L194",
        "responsible authority unknown to police: host acts, item to find it",
        lac("ME4 4TR", None, force="kent-police"),
        office("medway"),
        items=frozenset({"find_responsible_authority"}),
        reason_has=(("medway", "front_door", "responsible authority is not known"),),
    ),
    Case(
        "DOMAIN §4",
        "responsible named but not in directory: host acts, item raised",
        lac("CV34 4RL", "Birmingham City Council"),
        office("warwickshire"),
        items=frozenset({"unknown_authority"}),
    ),
    Case(
        "DOMAIN §4",
        "responsible known from placement notice on file",
        lac("DE4 3AG", None, force="derbyshire-constabulary"),
        office("derby") | iro("derby") | host_info("derbyshire", rhi=False),
        history=EpisodeHistory(responsible_authority="derby"),
        reason_has=(("derby", "front_door", "placement notice on file"),),
    ),
    Case(
        "DOMAIN §4",
        "placement postcode missing: missing-from stands in, item raised",
        lac(None, "Kent", missing_from="CV34 4RL"),
        office("kent") | iro("kent") | host_info("warwickshire", rhi=True),
        items=frozenset({"placement_postcode_missing"}),
    ),
    Case(
        "DOMAIN §4",
        "placement postcode missing, nothing else: responsible only, item",
        lac(None, "Kent"),
        office("kent") | iro("kent"),
        items=frozenset({"placement_postcode_missing"}),
    ),
    Case(
        "DOMAIN §4",
        "placement postcode unknown: responsible only, item",
        lac("ZZ9 9ZZ", "Kent"),
        office("kent") | iro("kent"),
        items=frozenset({"postcode_unresolved"}),
    ),
    Case(
        "DOMAIN §4",
        "placement in Wales: no English host, item",
        lac("CF10 1EP", "Kent"),
        office("kent") | iro("kent"),
        items=frozenset({"outside_england"}),
    ),
    Case(
        "DOMAIN §4",
        "placement in Scotland: no English host, item",
        lac("EH1 1YZ", "Derby", force="derbyshire-constabulary"),
        office("derby") | iro("derby"),
        items=frozenset({"outside_england"}),
    ),
    Case(
        "DOMAIN §4",
        "placement in Northern Ireland: no English host, item",
        lac("BT1 5GS", "Medway", force="kent-police"),
        office("medway") | iro("medway"),
        items=frozenset({"outside_england"}),
    ),
    Case(
        "DOMAIN §4",
        "neither responsible nor host can be found: item, nobody else",
        lac(None, None),
        frozenset(),
        items=frozenset({"placement_postcode_missing", "find_responsible_authority", "no_route"}),
    ),
    Case(
        "001 L276",
        "confidential placement: routed by postcode, postcode kept out of reasons",
        lac("CV34 4RL", "Kent", confidential=True),
        office("kent") | iro("kent") | host_info("warwickshire", rhi=True),
        reason_has=(("warwickshire", "missing_coordinator", "withheld (confidential"),),
        reason_lacks="CV34",
    ),
    Case(
        "000 §6.3",
        "remanded child under 16: Youth Justice told, missing and absconder",
        lac("CV34 4RL", "Warwickshire", legal=LegalStatus.REMAND, born=date(2011, 5, 1)),
        office("warwickshire") | iro("warwickshire") | rset(("warwickshire", "youth_justice", I)),
        reason_has=(("warwickshire", "youth_justice", "missing and absconder"),),
    ),
    Case(
        "002 L489-493",
        "remanded child aged 16: absconder only",
        lac(
            "DN31 1HU",
            "North East Lincolnshire",
            legal=LegalStatus.REMAND,
            born=date(2009, 1, 1),
            force="humberside-police",
            grade=RiskGrade.HIGH,
        ),
        office("north-east-lincolnshire")
        | iro("north-east-lincolnshire")
        | rset(("north-east-lincolnshire", "youth_justice", I)),
        reason_has=(("north-east-lincolnshire", "youth_justice", "absconder only"),),
    ),
    # --- found follows missing ---------------------------------------------------------
    Case(
        "001 L392",
        "found in office hours reaches everyone who had the missing report",
        lac("ME4 4TR", "Kent", force="kent-police", event=EventType.FOUND),
        office("kent") | iro("kent") | host_info("medway", rhi=False) | rset(("kent", "edt", A)),
        history=NIGHT_HISTORY,
        reason_has=(("kent", "edt", "found follows missing"),),
    ),
    Case(
        "003 L438",
        "found after a placement move: old host and new host both told",
        lac("CV34 4RL", "Kent", event=EventType.FOUND),
        office("kent")
        | iro("kent")
        | host_info("warwickshire", rhi=True)
        | rset(("kent", "edt", A), ("medway", "missing_coordinator", I)),
        history=NIGHT_HISTORY,
    ),
    Case(
        "003 L438",
        "found: a past recipient no longer in the directory is an item",
        lac("CV34 4RL", "Warwickshire", event=EventType.FOUND),
        office("warwickshire") | iro("warwickshire"),
        history=EpisodeHistory(recipients=(PriorRecipient("barsetshire", "front_door", A),)),
        items=frozenset({"no_channel"}),
    ),
    Case(
        "000 §5.3.7",
        "update goes to the action authority and past recipients",
        lac("ME4 4TR", "Kent", force="kent-police", event=EventType.UPDATE),
        office("kent") | host_info("medway", rhi=False) | rset(("kent", "edt", A)) | iro("kent"),
        history=NIGHT_HISTORY,
    ),
    Case(
        "003 L322",
        "IRO told of the return of a child in care",
        lac("CV34 4RL", "Warwickshire", event=EventType.FOUND),
        office("warwickshire") | iro("warwickshire"),
    ),
    Case(
        "003 L438",
        "amended missing report (revision 2) also reaches the first report's recipients",
        home("CV34 4RL"),
        office("warwickshire") | rset(("derby", "front_door", A)),
        history=EpisodeHistory(recipients=(PriorRecipient("derby", "front_door", A),)),
        reason_has=(("derby", "front_door", "amended report follows missing"),),
    ),
    Case(
        "000 §5.3.7",
        "cancelled in error: everyone told before is told it is cancelled",
        lac("ME4 4TR", "Kent", force="kent-police", event=EventType.CANCELLED),
        office("kent") | host_info("medway", rhi=False) | rset(("kent", "edt", A)) | iro("kent"),
        history=NIGHT_HISTORY,
        reason_has=(("kent", "edt", "cancelled follows missing"),),
    ),
    # --- risk vocabularies -------------------------------------------------------------
    Case(
        "003 L214",
        "Warwickshire never low: low grade held for a coordinator",
        home("CV34 4RL", grade=RiskGrade.LOW),
        office("warwickshire"),
        items=frozenset({"risk_grade_hold"}),
    ),
    Case(
        "001 L184",
        "Kent Police: under-18s never low risk",
        home("ME4 4TR", force="kent-police", grade=RiskGrade.LOW),
        office("medway"),
        items=frozenset({"risk_grade_hold"}),
    ),
    Case(
        "002 L194",
        "Humberside: children only medium or high",
        home("DN31 1HU", force="humberside-police", grade=RiskGrade.NO_APPARENT_RISK),
        office("north-east-lincolnshire"),
        items=frozenset({"risk_grade_hold"}),
    ),
    Case(
        "004 L329",
        "Derbyshire: no apparent risk is allowed (capped at 24 h by tracking)",
        home("DE4 3AG", force="derbyshire-constabulary", grade=RiskGrade.NO_APPARENT_RISK),
        office("derbyshire"),
    ),
    # --- other events ------------------------------------------------------------------
    Case(
        "000 §6.1.11",
        "away from placement: councils only, never police",
        lac("CV34 4RL", "Kent", event=EventType.AWAY_FROM_PLACEMENT),
        office("kent") | rset(("warwickshire", "missing_coordinator", I)),
    ),
    Case(
        "004 L562",
        "RHI by the responsible authority: police, host and IRO told",
        lac("CV34 4RL", "Kent", event=EventType.RHI_OUTCOME, force="warwickshire-police"),
        rset(
            ("warwickshire-police", "police_feedback", I),
            ("warwickshire", "missing_coordinator", I),
            ("kent", "iro_service", I),
        ),
    ),
    Case(
        "004 L562",
        "RHI by the host authority: police, responsible and IRO told",
        lac(
            "CV34 4RL",
            "Kent",
            event=EventType.RHI_OUTCOME,
            extra={"rhi_conducted_by": "warwickshire"},
        ),
        rset(
            ("warwickshire-police", "police_feedback", I),
            ("kent", "missing_coordinator", I),
            ("kent", "iro_service", I),
        ),
    ),
    Case(
        "000 §8.8",
        "RHI outcome from an unknown force: item to share by hand",
        lac("CV34 4RL", "Warwickshire", event=EventType.RHI_OUTCOME, force="ruritania-police"),
        iro("warwickshire"),
        items=frozenset({"unknown_force"}),
    ),
    Case(
        "004 L552",
        "placement notice goes to the host's missing lead",
        lac("CV34 4RL", "Kent", event=EventType.PLACEMENT_NOTICE),
        rset(("warwickshire", "missing_coordinator", A)),
    ),
    # --- calendars: bank holidays per nation, BST --------------------------------------
    Case(
        "000 §6.2.11",
        "Christmas Day 2026 (Friday): EDT, front door copy for Tue 29 Dec",
        home("CV34 4RL"),
        after_hours("warwickshire"),
        now=utc(2026, 12, 25, 11, 0),
        reason_has=(
            ("warwickshire", "front_door", "Tue 29 Dec 2026 09:00"),
            ("warwickshire", "edt", "Christmas Day"),
        ),
    ),
    Case(
        "000 §6.2.11",
        "Christmas Eve evening skips Christmas and the Boxing Day substitute",
        home("DE1 2FS", force="derbyshire-constabulary"),
        after_hours("derby"),
        now=utc(2026, 12, 24, 18, 0),
        reason_has=(("derby", "front_door", "Tue 29 Dec 2026 09:00"),),
    ),
    Case(
        "000 §6.2.11",
        "England summer bank holiday 2026-08-31: English council closed",
        home("CV34 4RL"),
        after_hours("warwickshire"),
        now=utc(2026, 8, 31, 10, 0),
    ),
    Case(
        "000 §6.2.11",
        "2026-08-31 is no holiday in Scotland: Edinburgh front door acts",
        lac("CV34 4RL", "City of Edinburgh Council"),
        office("city-of-edinburgh")
        | iro("city-of-edinburgh")
        | host_info("warwickshire", rhi=True),
        now=utc(2026, 8, 31, 10, 0),
    ),
    Case(
        "000 §6.2.11",
        "Scotland summer bank holiday 2026-08-03: Edinburgh EDT",
        lac("CV34 4RL", "City of Edinburgh Council"),
        after_hours("city-of-edinburgh")
        | iro("city-of-edinburgh")
        | host_info("warwickshire", rhi=True),
        now=utc(2026, 8, 3, 10, 0),
        reason_has=(("city-of-edinburgh", "front_door", "Tue 04 Aug 2026 09:00"),),
    ),
    Case(
        "000 §6.2.11",
        "2026-08-03 is a working day in England",
        home("CV34 4RL"),
        office("warwickshire"),
        now=utc(2026, 8, 3, 10, 0),
    ),
    Case(
        "000 §6.2.11",
        "Wales keeps the August bank holiday too: Cardiff EDT",
        lac("CV34 4RL", "Cardiff Council"),
        after_hours("cardiff") | iro("cardiff") | host_info("warwickshire", rhi=True),
        now=utc(2026, 8, 31, 10, 0),
    ),
    Case(
        "000 §6.2.11",
        "4 Jan 2027: Scottish 2 January substitute, England open",
        lac("CV34 4RL", "City of Edinburgh Council"),
        after_hours("city-of-edinburgh")
        | iro("city-of-edinburgh")
        | host_info("warwickshire", rhi=True),
        now=utc(2027, 1, 4, 10, 0),
    ),
    Case(
        "000 §6.2.11",
        "first Monday of BST: 08:30 UTC is 09:30 local, office hours",
        home("CV34 4RL"),
        office("warwickshire"),
        now=utc(2026, 3, 30, 8, 30),
    ),
    Case(
        "000 §6.2.11",
        "Friday before BST ends: 16:30 UTC is 17:30 local, closed",
        home("CV34 4RL"),
        after_hours("warwickshire"),
        now=utc(2026, 10, 23, 16, 30),
    ),
    Case(
        "000 §6.2.11",
        "first Monday after BST: 08:30 UTC is 08:30 local, not yet open",
        home("CV34 4RL"),
        after_hours("warwickshire"),
        now=utc(2026, 10, 26, 8, 30),
        reason_has=(("warwickshire", "front_door", "Mon 26 Oct 2026 09:00"),),
    ),
    Case(
        "000 §6.2.11",
        "Friday in GMT: 16:30 UTC is 16:30 local, still open",
        home("CV34 4RL"),
        office("warwickshire"),
        now=utc(2026, 3, 27, 16, 30),
    ),
]


def _triples(decision: RoutingDecision) -> frozenset[tuple[str, str, RecipientRole]]:
    return frozenset((r.authority, r.team, r.role) for r in decision.recipients)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cite} {c.name}" for c in CASES])
def test_routing_case(case: Case) -> None:
    decision = route(case.notification, case.history, DIRECTORY, FakePostcodes(), case.now)
    assert _triples(decision) == case.expected, decision
    assert {item.kind for item in decision.items} == case.items
    reasons = {(r.authority, r.team): r.reason for r in decision.recipients}
    for authority, team, text in case.reason_has:
        assert text in reasons[(authority, team)]
    if case.reason_lacks is not None:
        assert all(case.reason_lacks not in r.reason for r in decision.recipients)
        assert all(case.reason_lacks not in n for n in decision.explanation)
        assert all(case.reason_lacks not in i.message for i in decision.items)


def test_table_is_large_and_every_case_cites_a_paragraph() -> None:
    assert len(CASES) >= 40
    assert all(c.cite.strip() for c in CASES)


def test_every_recipient_has_a_folder_channel_in_the_demo() -> None:
    decision = route(lac("CV34 4RL", "Kent"), None, DIRECTORY, FakePostcodes(), TUE_22)
    assert decision.recipients
    for recipient in decision.recipients:
        assert recipient.channel.kind == "folder"
        assert recipient.channel.address == f"drop/{recipient.authority}/{recipient.team}"
