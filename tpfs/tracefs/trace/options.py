"""The trace options: ``trace_options`` and ``options/NAME``, as the kernel has them.

Every name, default and order below was read from the reference kernel's
tracefs (Linux 6.18) with the ``nop`` tracer current. ``trace_options``
shows the core flags, then the options of the current tracer only, one a
line, ``noNAME`` when off; ``options/`` holds a ``0``/``1`` file for every
core flag and for every tracer's options, whichever tracer is current.

Writes parse as the kernel parses them:

- ``trace_options``: at most 63 bytes (64 or more: EINVAL), cut at a NUL,
  stripped of ``isspace`` at both ends; one name, optionally ``no``-prefixed;
  anything else (two names, an unknown name, another tracer's option, an
  empty write) is EINVAL. A tracer option goes to the tracer every time,
  even when it would not change (``test_nop_refuse`` is refused either way).
- ``options/NAME``: ``kstrtoul_from_user`` in base 10 over the first 66
  bytes (the rest is ignored): an optional ``+``, digits, one optional
  ``\\n``; overflow is ERANGE, anything else EINVAL, a value other than
  0 or 1 EINVAL. A tracer option reaches its tracer only when it changes.
- ``trace_printk_dest`` cannot be cleared on the top-level instance (EINVAL).
- A core flag set to the value it has is a no-op (no listener runs).

Listeners (``TraceOptions.subscribe``) let the daemon honour the options
that change what is recorded or shown (``overwrite``, ``record-cmd``,
``record-tgid``, ``irq-info``, ``markers``, ``print-parent``, ...): each
runs before the new value is stored and may refuse it by raising
``TpfsError``, in which case the value stays as it was.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ...kernel.errors import TpfsError
from ..kstr import SPACES, kstrtoul_from_user

#: ``trace_options`` takes writes shorter than its 64-byte buffer.
TRACE_OPTIONS_MAX = 63

MODE_TRACE_OPTIONS = 0o640
MODE_OPTIONS_DIR = 0o750
MODE_OPTION_FILE = 0o640


@dataclass(frozen=True, slots=True)
class Option:
    """One option: its name, its boot value, and who owns it."""

    name: str
    default: bool
    #: None for a core flag; else the tracer whose option it is.
    tracer: str | None = None
    #: The tracer refuses every change of it (nop's ``test_nop_refuse``).
    refused: bool = False
    #: It cannot be cleared on the top-level instance (``trace_printk_dest``).
    sticky: bool = False


def _core(spec: str) -> tuple[Option, ...]:
    out = []
    for word in spec.split():
        on = not word.startswith("no")
        name = word if on else word[2:]
        out.append(Option(name, on, sticky=name == "trace_printk_dest"))
    return tuple(out)


#: The core flags in ``trace_options`` order, as the reference kernel lists
#: them at boot (Linux 6.18, ``cat trace_options``).
CORE_OPTIONS = _core("""
    print-parent nosym-offset nosym-addr noverbose noraw nohex nobin noblock nofields
    trace_printk annotate nouserstacktrace nosym-userobj noprintk-msg-only context-info
    nolatency-format record-cmd norecord-tgid overwrite nodisable_on_free irq-info markers
    noevent-fork trace_printk_dest copy_trace_marker nopause-on-trace hash-ptr
    function-trace nofunction-fork nostacktrace
""")

#: Each tracer's own options, in the order ``trace_options`` lists them when
#: that tracer is current. nop's and blk's were read from the reference
#: kernel; function's (which it refuses to make current, EPERM) follow the
#: order of ``options/``.
TRACER_OPTIONS: dict[str, tuple[Option, ...]] = {
    "nop": (Option("test_nop_accept", False, "nop"),
            Option("test_nop_refuse", False, "nop", refused=True)),
    "function": (Option("func_stack_trace", False, "function"),
                 Option("func-no-repeats", False, "function")),
    "blk": (Option("blk_classic", False, "blk"), Option("blk_cgroup", False, "blk"),
            Option("blk_cgname", False, "blk")),
}

OPTIONS: dict[str, Option] = {o.name: o for o in CORE_OPTIONS} | {
    o.name: o for opts in TRACER_OPTIONS.values() for o in opts}

#: ``options/`` in the reference kernel's readdir order (newest first: blk's,
#: nop's, function's, then the core flags from the last to the first).
OPTIONS_DIR_ORDER: tuple[str, ...] = (
    *reversed([o.name for o in TRACER_OPTIONS["blk"]]),
    *reversed([o.name for o in TRACER_OPTIONS["nop"]]),
    *reversed([o.name for o in TRACER_OPTIONS["function"]]),
    *reversed([o.name for o in CORE_OPTIONS]),
)




Listener = Callable[[bool], None]


@dataclass(slots=True)
class TraceOptions:
    """The current value of every option, with listeners for the daemon."""

    values: dict[str, bool] = field(
        default_factory=lambda: {name: o.default for name, o in OPTIONS.items()})
    #: The current tracer's name (the daemon passes ``lambda: tracing.tracer``).
    current_tracer: Callable[[], str] = lambda: "nop"
    #: Called when an option is about to change; see ``subscribe``.
    listeners: dict[str, list[Listener]] = field(default_factory=dict)
    #: The top-level instance (``trace_printk_dest`` stays set there).
    top_level: bool = True

    def __getitem__(self, name: str) -> bool:
        return self.values[name]

    def subscribe(self, name: str, listener: Listener) -> None:
        """Call ``listener(new_value)`` before ``name`` changes; it may raise ``TpfsError``."""
        if name not in OPTIONS:
            raise KeyError(name)
        self.listeners.setdefault(name, []).append(listener)

    def names(self) -> tuple[str, ...]:
        """The files of ``options/``, in the kernel's readdir order."""
        return OPTIONS_DIR_ORDER

    def listed(self) -> Iterator[Option]:
        """The options ``trace_options`` shows: the core flags, then the tracer's."""
        yield from CORE_OPTIONS
        yield from TRACER_OPTIONS.get(self.current_tracer(), ())

    # -- changing a value ---------------------------------------------------
    def _store(self, option: Option, value: bool) -> None:
        for listener in self.listeners.get(option.name, ()):
            listener(value)
        self.values[option.name] = value

    def set(self, name: str, value: bool, *, force: bool = False) -> None:
        """Set one option, refusing as the kernel does.

        ``force`` hands a tracer option to its tracer even when it would not
        change, as a ``trace_options`` write does.
        """
        option = OPTIONS.get(name)
        if option is None:
            raise TpfsError(errno.EINVAL, f"no option {name!r}")
        changed = self.values[name] != value
        if option.tracer is not None:
            if option.refused and (changed or force):
                raise TpfsError(errno.EINVAL, f"the {option.tracer} tracer refuses {name}")
        elif not changed:
            return
        if option.sticky and self.top_level and not value:
            raise TpfsError(errno.EINVAL, f"{name} cannot be cleared on the top instance")
        if changed:
            self._store(option, value)

    # -- trace_options --------------------------------------------------------
    def render_trace_options(self) -> str:
        return "".join(f"{'' if self.values[o.name] else 'no'}{o.name}\n"
                       for o in self.listed())

    def write_trace_options(self, buf: bytes) -> int:
        """One ``[no]NAME`` per write; returns the count the kernel returns."""
        if len(buf) > TRACE_OPTIONS_MAX:
            raise TpfsError(errno.EINVAL, f"trace_options write of {len(buf)} bytes")
        word = buf.split(b"\0", 1)[0].decode("latin-1").strip(SPACES)
        value = not word.startswith("no")
        name = word if value else word[2:]
        if name not in {o.name for o in self.listed()}:
            raise TpfsError(errno.EINVAL, f"no option {word!r} for the "
                                          f"{self.current_tracer()} tracer")
        self.set(name, value, force=True)
        return len(buf)

    # -- options/NAME -----------------------------------------------------------
    def option_file_render(self, name: str) -> str:
        if name not in OPTIONS:
            raise TpfsError(errno.ENOENT, f"no options/{name}")
        return f"{int(self.values[name])}\n"

    def option_file_write(self, name: str, buf: bytes) -> int:
        if name not in OPTIONS:
            raise TpfsError(errno.ENOENT, f"no options/{name}")
        value = kstrtoul_from_user(buf)
        if value > 1:
            raise TpfsError(errno.EINVAL, f"options/{name} takes 0 or 1, not {value}")
        self.set(name, bool(value))
        return len(buf)
