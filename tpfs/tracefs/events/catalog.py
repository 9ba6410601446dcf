"""The catalogue of core tracepoints: names, kernel ids and format texts.

A catalogue comes from one of three places: the compressed copy shipped as
package data (the default), a catalogue file written by ``tools/gen_catalog.py``,
or a live tracefs directory such as the host's own.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

HOST_TRACEFS_CANDIDATES = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


@dataclass(frozen=True, slots=True)
class CatalogEvent:
    """One core tracepoint as the kernel describes it."""

    subsys: str
    event: str
    id: int
    format: str

    @property
    def name(self) -> str:
        return f"{self.subsys}:{self.event}"


@dataclass(frozen=True, slots=True)
class Catalog:
    """Core tracepoints in registration order, plus the ring-buffer headers."""

    events: tuple[CatalogEvent, ...]
    header_page: str = ""
    header_event: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "header_page": self.header_page,
            "header_event": self.header_event,
            "events": [[e.subsys, e.event, e.id, e.format] for e in self.events],
        }

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Catalog:
        raw = doc["events"]
        assert isinstance(raw, list)
        events = tuple(CatalogEvent(s, e, int(i), f) for s, e, i, f in raw)
        return cls(events, str(doc.get("header_page", "")), str(doc.get("header_event", "")))


def load_embedded() -> Catalog:
    """The catalogue shipped with the package (this project's reference kernel)."""
    data = resources.files("tpfs.tracefs").joinpath("data/catalog.json.gz").read_bytes()
    return Catalog.from_json(json.loads(gzip.decompress(data)))


def load_file(path: str | os.PathLike[str]) -> Catalog:
    """A catalogue file: gzip-compressed or plain JSON as ``dump`` writes it."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return Catalog.from_json(json.loads(raw))


def dump(catalog: Catalog, path: str | os.PathLike[str]) -> None:
    """Write ``catalog`` compressed; ``mtime=0`` keeps the output reproducible."""
    text = json.dumps(catalog.to_json(), separators=(",", ":")).encode()
    Path(path).write_bytes(gzip.compress(text, compresslevel=9, mtime=0))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def read_tracefs(root: str | os.PathLike[str]) -> Catalog:
    """Read every event of a mounted tracefs, in ``available_events`` order."""
    top = Path(root)
    events = []
    for line in (top / "available_events").read_text().splitlines():
        subsys, _, event = line.partition(":")
        if not event:
            continue
        edir = top / "events" / subsys / event
        ident = _read(edir / "id").strip()
        events.append(CatalogEvent(subsys, event, int(ident or 0), _read(edir / "format")))
    return Catalog(
        tuple(events),
        _read(top / "events" / "header_page"),
        _read(top / "events" / "header_event"),
    )


@contextlib.contextmanager
def host_tracefs() -> Iterator[Path]:
    """The host's tracefs directory, mounted privately for the duration if needed."""
    for cand in HOST_TRACEFS_CANDIDATES:
        if os.path.exists(os.path.join(cand, "available_events")):
            yield Path(cand)
            return
    tmp = tempfile.mkdtemp(prefix="tpfs-hosttrace-")
    try:
        subprocess.run(["mount", "-t", "tracefs", "nodev", tmp], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        os.rmdir(tmp)
        raise RuntimeError(f"cannot mount the host tracefs: {exc}") from exc
    try:
        yield Path(tmp)
    finally:
        subprocess.run(["umount", tmp], check=False, capture_output=True)
        os.rmdir(tmp)


def load_host() -> Catalog:
    """The live catalogue of the running kernel."""
    with host_tracefs() as root:
        return read_tracefs(root)


def load(spec: str) -> Catalog:
    """Resolve a ``--catalog`` value: ``default``, ``host`` or a file path."""
    if spec == "default":
        return load_embedded()
    if spec == "host":
        return load_host()
    return load_file(spec)
