"""Control-file text in, registry batches out: the syntax of modules/ and probes/.

Each write() to a control file is one batch of lines. This module only
parses (``EINVAL`` for anything malformed, before the registry sees the
batch); the registry's batch operations check the batch against its state
and apply it all or refuse it whole.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable, Iterator

from ...kernel.errors import TpfsError
from ...kernel.registry import ModuleSpec, Probe, ProbeChange, Registry

MAX_WRITE = 64 * 1024
MAX_NAME = 55
RESERVED_MODULE_NAMES = frozenset({"load", "unload"})

_MODULE_RE = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_NAME}}}")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_IDENT_RE = re.compile(_IDENT)
_EVENT_RE = re.compile(rf"{_IDENT}:{_IDENT}")
_TAINT_RE = re.compile(r"taint=[A-Z]+")
_DATA_RE = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
_BLANKS_RE = re.compile(r"[ \t]+")
MAX_DATA = (1 << 64) - 1


def _invalid(why: str) -> TpfsError:
    return TpfsError(errno.EINVAL, why)


def check_size(buf: bytes) -> None:
    if len(buf) > MAX_WRITE:
        raise _invalid(f"write of {len(buf)} bytes is over {MAX_WRITE}")


def split_lines(buf: bytes) -> Iterator[list[str]]:
    """The non-blank lines of one write, as words split on ASCII spaces and tabs."""
    check_size(buf)
    if b"\0" in buf:
        raise _invalid("NUL byte in control text")
    try:
        text = buf.decode("ascii")
    except UnicodeDecodeError:
        raise _invalid("control text must be ASCII") from None
    for line in text.split("\n"):
        words = [w for w in _BLANKS_RE.split(line) if w]
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


#: Refuses, with EINVAL, an event name the files cannot show.
NameCheck = Callable[[str], None]


def parse_load(words: list[str], check_name: NameCheck) -> ModuleSpec:
    """``NAME [taint=LETTERS] [SUBSYS:EVENT ...]``."""
    name = parse_module_name(words[0])
    rest = words[1:]
    taints = ""
    if rest and rest[0].startswith("taint="):
        if not _TAINT_RE.fullmatch(rest[0]):
            raise _invalid(f"bad taint {rest[0]!r}")
        taints = "".join(dict.fromkeys(rest[0][len("taint="):]))
        rest = rest[1:]
    events = tuple(parse_event_name(w) for w in rest)
    for event in events:
        check_name(event)
    return ModuleSpec(name, events, taints)


def parse_unload(words: list[str]) -> str:
    if len(words) != 1:
        raise _invalid("unload takes one module name per line")
    return parse_module_name(words[0])


def parse_probe(words: list[str]) -> tuple[str, Probe]:
    """``SUBSYS:EVENT PROBE [DATA]``."""
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
    """The registry batch behind each control file."""

    def __init__(self, registry: Registry, check_name: NameCheck) -> None:
        self.registry = registry
        self.check_name = check_name

    # -- modules ---------------------------------------------------------
    def load(self, buf: bytes) -> None:
        specs = [parse_load(words, self.check_name) for words in split_lines(buf)]
        self.registry.load_modules(specs)

    def unload(self, buf: bytes) -> None:
        self.registry.unload_modules([parse_unload(words) for words in split_lines(buf)])

    def remove_module(self, name: str) -> None:
        self.registry.module_going(name)

    # -- probes ----------------------------------------------------------
    def _probes(self, buf: bytes, add: bool, update: bool) -> None:
        changes = [ProbeChange(name, probe, add)
                   for name, probe in map(parse_probe, split_lines(buf))]
        self.registry.change_probes(changes, update=update)

    def register(self, buf: bytes) -> None:
        self._probes(buf, True, True)

    def unregister(self, buf: bytes) -> None:
        self._probes(buf, False, True)

    def register_noupdate(self, buf: bytes) -> None:
        self._probes(buf, True, False)

    def unregister_noupdate(self, buf: bytes) -> None:
        self._probes(buf, False, False)

    def update(self, buf: bytes) -> None:
        check_size(buf)
        self.registry.tracepoint_probe_update_all()

    def remove_probes(self, name: str) -> None:
        self.registry.tracepoint_probe_unregister(name, None)
