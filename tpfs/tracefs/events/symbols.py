"""Kernel symbols, as ``%ps`` and ``%pS`` print an address: the host's kallsyms;
and syscall names by number, as ``get_syscall_name`` gives them.

A hist trigger's ``.sym`` and ``.sym-offset`` keys name the function an
address falls in (``sprint_symbol_no_offset`` and ``sprint_symbol``); tpfs
has no kernel text of its own, so it names addresses with the text symbols
the host lists in ``/proc/kallsyms`` (given in lines, read once by the
command). A symbol's size is the distance to the next one, as kallsyms
computes it; an address before the first, or past a symbol table that lists
nothing after it, has no name. A ``.syscall`` key names its number the way
the kernel's syscall metadata does (``sys_`` and the name), from the
``__NR_`` numbers of the host's ``asm/unistd_64.h``. A kprobe's symbol is
checked as ``validate_probe_symbol`` checks it, against the names the host
lists: one symbol of that name, or the definition is refused.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .hist import Resolvers

#: kallsyms types of text (code) symbols: the ones a call site falls in.
TEXT_TYPES = frozenset("tTwW")
#: Where the host's syscall numbers are (x86-64, Debian's linux-libc-dev first).
UNISTD_HEADERS = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
                  "/usr/include/asm/unistd_64.h")
_NR = re.compile(r"#define __NR_(\w+)\s+(\d+)\s*$")


@dataclass(slots=True)
class KernelSymbols:
    """Text symbols by address, each with the address of the one after it; and
    how many symbols of each name there are."""

    addresses: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    #: Symbols of each name, of every type, the kernel's and its modules' (what
    #: ``number_of_same_symbols`` counts); empty when nothing was listed.
    counts: dict[str, int] = field(default_factory=dict)
    #: Each loaded module's own symbols of each name.
    modules: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, lines: Iterable[str]) -> KernelSymbols:
        """``ADDRESS TYPE NAME [\\t[MODULE]]`` lines. A hidden (zero) address
        names nothing, but its name counts."""
        found: dict[int, str] = {}
        counts: dict[str, int] = {}
        modules: dict[str, dict[str, int]] = {}
        for line in lines:
            words = line.split()
            if len(words) < 3:
                continue
            name = words[2]
            counts[name] = counts.get(name, 0) + 1
            if len(words) > 3 and words[3].startswith("["):
                own = modules.setdefault(words[3].strip("[]"), {})
                own[name] = own.get(name, 0) + 1
            if words[1] not in TEXT_TYPES:
                continue
            try:
                addr = int(words[0], 16)
            except ValueError:
                continue
            if addr:
                found.setdefault(addr, name)  # the first name listed at an address
        ordered = sorted(found)
        return cls(ordered, [found[a] for a in ordered], counts, modules)

    def same_symbols(self, symbol: str) -> int | None:
        """``number_of_same_symbols`` for a kprobe's ``[MODULE:]NAME``: in MODULE
        alone when it names one. None when there is nothing to count against (no
        symbols were listed, or MODULE is not loaded: the kernel leaves that
        check to the module's load)."""
        if not self.counts:
            return None
        module, colon, name = symbol.partition(":")
        if not colon:
            return self.counts.get(symbol, 0)
        own = self.modules.get(module)
        return None if own is None else own.get(name, 0)

    def lookup(self, addr: int) -> tuple[str, int, int] | None:
        """The symbol ``addr`` falls in: its name, the offset into it and its size."""
        at = bisect.bisect_right(self.addresses, addr) - 1
        if at < 0 or at + 1 >= len(self.addresses):
            return None
        start = self.addresses[at]
        return self.names[at], addr - start, self.addresses[at + 1] - start

    def name(self, addr: int) -> str | None:
        """``%ps``: the function's name."""
        found = self.lookup(addr)
        return None if found is None else found[0]

    def name_offset(self, addr: int) -> str | None:
        """``%pS``: ``NAME+0xOFFSET/0xSIZE``."""
        found = self.lookup(addr)
        return None if found is None else f"{found[0]}+{found[1]:#x}/{found[2]:#x}"


def host_symbols(path: str = "/proc/kallsyms") -> KernelSymbols:
    """The host's text symbols (none when kallsyms cannot be read or hides them)."""
    try:
        with open(path) as kallsyms:
            return KernelSymbols.parse(kallsyms)
    except OSError:
        return KernelSymbols()


def syscall_names(lines: Iterable[str]) -> dict[int, str]:
    """``#define __NR_NAME NUMBER`` lines: number to ``sys_NAME``."""
    names: dict[int, str] = {}
    for line in lines:
        m = _NR.match(line)
        if m:
            names.setdefault(int(m[2]), f"sys_{m[1]}")
    return names


def host_syscalls(paths: Iterable[str] = UNISTD_HEADERS) -> dict[int, str]:
    """The host's syscall names by number (none when no header is there)."""
    for path in paths:
        try:
            with open(path) as header:
                return syscall_names(header)
        except OSError:
            continue
    return {}


def resolvers(load: Callable[[], KernelSymbols],
              syscalls: Callable[[], Mapping[int, str]] = dict) -> Resolvers:
    """The ``hist`` file's ``%ps``, ``%pS`` and syscall names, over what ``load``
    and ``syscalls`` give (once asked: most mounts never need them)."""
    return Resolvers(sym=lambda addr: load().name(addr),
                     sym_offset=lambda addr: load().name_offset(addr),
                     syscall=lambda nr: syscalls().get(nr))
