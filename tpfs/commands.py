"""Control-file text in, registry calls out: parsing and all-or-nothing batches.

Each write() to a control file is one batch of lines. Every line is parsed
and checked against the registry's state as the earlier lines of the same
batch would leave it before anything is applied, so that a batch either
applies whole or fails with the first line's errno and changes nothing.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import TpfsError
from .registry import TAINT_LETTERS, Probe, Registry

MAX_WRITE = 64 * 1024
MAX_NAME = 55
RESERVED_MODULE_NAMES = frozenset({"load", "unload"})

_MODULE_RE = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_NAME}}}")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_IDENT_RE = re.compile(_IDENT)
_EVENT_RE = re.compile(rf"{_IDENT}:{_IDENT}")
_TAINT_RE = re.compile(rf"taint=[{TAINT_LETTERS}]+")
_DATA_RE = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
MAX_DATA = (1 << 64) - 1


def _invalid(why: str) -> TpfsError:
    return TpfsError(errno.EINVAL, why)


def split_lines(buf: bytes) -> Iterator[list[str]]:
    """The non-blank lines of one write, as whitespace-separated words."""
    if len(buf) > MAX_WRITE:
        raise _invalid(f"write of {len(buf)} bytes is over {MAX_WRITE}")
    if b"\0" in buf:
        raise _invalid("NUL byte in control text")
    try:
        text = buf.decode("ascii")
    except UnicodeDecodeError:
        raise _invalid("control text must be ASCII") from None
    for line in text.split("\n"):
        words = line.split()
        if words:
            yield words


def parse_event_name(word: str) -> str:
    if not _EVENT_RE.fullmatch(word) or len(word) > 2 * (MAX_NAME + 1):
        raise _invalid(f"bad tracepoint name {word!r}")
    return word


def parse_module_name(word: str) -> str:
    if not _MODULE_RE.fullmatch(word) or word in RESERVED_MODULE_NAMES:
        raise _invalid(f"bad module name {word!r}")
    return word


@dataclass(frozen=True, slots=True)
class LoadLine:
    name: str
    taints: str
    events: tuple[str, ...]


def parse_load(words: list[str]) -> LoadLine:
    name = parse_module_name(words[0])
    rest = words[1:]
    taints = ""
    if rest and rest[0].startswith("taint="):
        if not _TAINT_RE.fullmatch(rest[0]):
            raise _invalid(f"bad taint {rest[0]!r}")
        taints = "".join(dict.fromkeys(rest[0][len("taint="):]))
        rest = rest[1:]
    events = tuple(parse_event_name(w) for w in rest)
    if len(set(events)) != len(events):
        raise _invalid(f"module {name} lists a tracepoint twice")
    return LoadLine(name, taints, events)


def parse_unload(words: list[str]) -> str:
    if len(words) != 1:
        raise _invalid("unload takes one module name per line")
    return parse_module_name(words[0])


def parse_probe(words: list[str]) -> tuple[str, Probe]:
    if len(words) not in (2, 3):
        raise _invalid("expected SUBSYS:EVENT PROBE [DATA]")
    name = parse_event_name(words[0])
    if not _IDENT_RE.fullmatch(words[1]) or len(words[1]) > 255:
        raise _invalid(f"bad probe name {words[1]!r}")
    data = 0
    if len(words) == 3:
        if not _DATA_RE.fullmatch(words[2]) or len(words[2]) > 20:
            raise _invalid(f"bad probe data {words[2]!r}")
        data = int(words[2], 0) if words[2][:2].lower() == "0x" else int(words[2])
        if data > MAX_DATA:
            raise _invalid(f"probe data {words[2]} does not fit 64 bits")
    return name, Probe(words[1], data)


class Commands:
    """The registry operations behind each control file."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    # -- modules ---------------------------------------------------------
    def load(self, buf: bytes) -> None:
        lines = [parse_load(words) for words in split_lines(buf)]
        reg = self.registry
        seen: set[str] = set()
        for line in lines:
            if line.name in reg.modules or line.name in seen:
                raise TpfsError(errno.EEXIST, f"module {line.name} already loaded")
            if len(line.events) > reg.limits.max_module_tracepoints:
                raise TpfsError(errno.ENOSPC, f"module {line.name} has too many tracepoints")
            seen.add(line.name)
        if len(reg.modules) + len(lines) > reg.limits.max_modules:
            raise TpfsError(errno.ENOSPC, f"more than {reg.limits.max_modules} modules")
        for line in lines:
            reg.module_coming(line.name, line.events, line.taints)

    def unload(self, buf: bytes) -> None:
        names = [parse_unload(words) for words in split_lines(buf)]
        self._check_unload(names)
        for name in names:
            self.registry.module_going(name)

    def _check_unload(self, names: list[str]) -> None:
        gone: set[str] = set()
        for name in names:
            if name not in self.registry.modules or name in gone:
                raise TpfsError(errno.ENOENT, f"module {name} not loaded")
            gone.add(name)

    def remove_module(self, name: str) -> None:
        self.registry.module_going(name)

    # -- probes ----------------------------------------------------------
    def _probe_batch(self, buf: bytes, adding: bool,
                     apply: Callable[[str, str, int], None]) -> None:
        lines = [parse_probe(words) for words in split_lines(buf)]
        reg = self.registry
        pending: dict[str, set[Probe]] = {}
        added = 0
        for name, probe in lines:
            if name not in pending:
                entry = reg.get_tracepoint(name)
                pending[name] = set(entry.funcs) if entry else set()
            have = pending[name]
            if adding:
                if probe in have:
                    raise TpfsError(errno.EEXIST, f"{probe.func} {probe.data:#x} already on {name}")
                have.add(probe)
                added += 1
            else:
                if probe not in have:
                    raise TpfsError(errno.ENOENT, f"{probe.func} {probe.data:#x} not on {name}")
                have.discard(probe)
        if reg.probe_count() + added > reg.limits.max_probes:
            raise TpfsError(errno.ENOSPC, f"more than {reg.limits.max_probes} probes")
        for name, probe in lines:
            apply(name, probe.func, probe.data)

    def register(self, buf: bytes) -> None:
        self._probe_batch(buf, True, self.registry.tracepoint_probe_register)

    def unregister(self, buf: bytes) -> None:
        self._probe_batch(buf, False, self.registry.tracepoint_probe_unregister)

    def register_noupdate(self, buf: bytes) -> None:
        self._probe_batch(buf, True, self.registry.tracepoint_probe_register_noupdate)

    def unregister_noupdate(self, buf: bytes) -> None:
        self._probe_batch(buf, False, self.registry.tracepoint_probe_unregister_noupdate)

    def update(self, buf: bytes) -> None:
        if len(buf) > MAX_WRITE:
            raise _invalid(f"write of {len(buf)} bytes is over {MAX_WRITE}")
        self.registry.tracepoint_probe_update_all()

    def remove_probes(self, name: str) -> None:
        self.registry.tracepoint_probe_unregister(name, None)
