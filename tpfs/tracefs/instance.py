"""Trace instances: the top level and each ``instances/NAME``, with their files.

An instance (``struct trace_array``) has its own buffers, settings, options
and event state: which events it enables, their filters and triggers. Its
event probes carry its number as their data, as the kernel's carry the
instance's ``trace_event_file``, so that one firing records into every
instance that enabled the event. Ids and formats of events are shared; the
saved task names and tgids are one set for all, as in the kernel.

``instance_files`` is the table of what every instance directory holds, the
top level's included; ``Instances`` is ``instances/``: ``mkdir`` makes a
complete instance at once, ``rmdir`` takes it away (``EBUSY`` while any of
its files is open), and nothing else can be made or removed there.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..kernel.errors import TpfsError
from ..kernel.registry import Registry
from .events.catalog import Catalog
from .events.events import EventLayer
from .events.hist import Resolvers, SortBudget
from .events.synth import SynthEvent
from .trace.ftrace_settings import MODES, FtracePids, FunctionFilter, SavedCmdlines, SavedTgids
from .trace.options import MODE_OPTION_FILE, MODE_OPTIONS_DIR, MODE_TRACE_OPTIONS, TraceOptions
from .trace.printer import MARKER_IP
from .trace.raw import TraceRawPipe
from .trace.settings import Setting, Tracing
from .trace.trace import MarkerTriggers, TraceArray, TraceListing, TracePipe
from .vfs.handles import Handle, PipeHandle, ReleaseHandle, TextHandle
from .vfs.nodes import (
    CONTROL_MODE,
    DIR_MODE,
    LISTING_MODE,
    MARKER_MODE,
    SETTING_MODE,
    ChildKey,
    Directory,
    File,
    Node,
    Opener,
    seq_file,
    text_file,
)

#: ``instances/`` holds at most this many: each has buffers and an event index.
MAX_INSTANCES = 64
#: ``NAME_MAX``: tracefs's ``simple_lookup`` refuses a longer name (ENAMETOOLONG)
#: before ``mkdir`` sees it; FUSE passes names up to a page to the daemon.
NAME_MAX = 255
SUBBUF_SIZE_KB = "4\n"  # one page: the only sub-buffer size tpfs has
TIMESTAMP_MODE = "[delta] absolute\n"


def setting_file(setting: Setting) -> File:
    return text_file(setting.mode, setting.render, setting.write, setting.clear)


@dataclass(frozen=True, slots=True)
class SharedState:
    """What every instance shares: the registry and its catalogue, the CPUs, the saved
    task names and tgids, the markers' ip, how hist files name addresses, the
    synthetic events hist actions fire, the events eprobes are attached to, and what
    the ``hist`` handles may hold."""

    registry: Registry
    catalog: Catalog
    ncpus: int
    cmdlines: SavedCmdlines = field(default_factory=SavedCmdlines)
    tgids: SavedTgids = field(default_factory=SavedTgids)
    marker_ip: int = MARKER_IP
    resolvers: Resolvers = field(default_factory=Resolvers)
    synth_events: dict[str, SynthEvent] = field(default_factory=dict)
    #: By an eprobe's event name, the event it is attached to.
    eprobe_hosts: dict[str, str] = field(default_factory=dict)
    #: What every ``hist`` handle may hold at once.
    sort_budget: SortBudget = field(default_factory=SortBudget)


@dataclass(eq=False)
class Instance:
    """One trace instance, the kernel's ``struct trace_array`` whole: its settings and
    buffer (``tracing``), what records into the buffer and shows it (``trace``), its
    options and its events (``layer``), each made once, in that order, by ``make``."""

    name: str  # "" for the top level
    tracing: Tracing
    layer: EventLayer
    trace: TraceArray
    options: TraceOptions
    ftrace_pids: FtracePids = field(default_factory=FtracePids)
    ftrace_notrace_pids: FtracePids = field(default_factory=FtracePids)
    ftrace_filter: FunctionFilter = field(default_factory=FunctionFilter)
    ftrace_notrace: FunctionFilter = field(default_factory=lambda: FunctionFilter(notrace=True))
    #: Files of this instance open now: ``rmdir`` is EBUSY while there are any.
    open_files: int = 0

    @property
    def probe_data(self) -> int:
        return self.layer.probe_data

    @classmethod
    def make(cls, name: str, probe_data: int, shared: SharedState,
             top: EventLayer | None) -> Instance:
        """A new instance with the kernel's defaults; ``top`` is the top level's event
        layer (None when this is the top level), whose ids and formats it uses."""
        tracing = Tracing(shared.ncpus, expanded=top is not None)  # an instance comes expanded
        options = TraceOptions(current_tracer=lambda: tracing.tracer, top_level=top is None)
        trace = TraceArray(tracing, options=options, cmdlines=shared.cmdlines,
                           tgids=shared.tgids, marker_ip=shared.marker_ip)
        layer = EventLayer(shared.registry, shared.catalog, trace, ncpus=shared.ncpus,
                           probe_data=probe_data, shared=top, resolvers=shared.resolvers,
                           synth_events=shared.synth_events, eprobe_hosts=shared.eprobe_hosts,
                           sort_budget=shared.sort_budget)
        return cls(name, tracing, layer, trace, options)


def _writer(apply: Callable[[bytes, Opener], int | None]) -> Callable[[Opener], Handle]:
    return lambda opener: TextHandle(None, lambda buf: apply(buf, opener))


def trace_files(trace: TraceArray, marker_triggers: MarkerTriggers) -> dict[str, Node]:
    """``trace``, ``trace_pipe``, the markers (each running ``marker_triggers``) and
    ``per_cpu/``."""

    def pipe(cpu: int | None) -> File:
        def open_(opener: Opener) -> Handle:
            trace.open_pipe(cpu)
            return PipeHandle(TracePipe(trace, cpu), bool(opener.flags & os.O_NONBLOCK),
                              lambda: trace.close_pipe(cpu))

        return File(LISTING_MODE, open_)

    def raw(cpu: int) -> File:
        return File(LISTING_MODE, lambda opener: PipeHandle(
            TraceRawPipe(trace, cpu), bool(opener.flags & os.O_NONBLOCK), lambda: None))

    def cpu_dir(cpu: int) -> Directory:
        return Directory(DIR_MODE, {
            "buffer_size_kb": text_file(SETTING_MODE, lambda: f"{trace.buffer.size_kb(cpu)}\n",
                                        lambda buf: trace.tracing.set_buffer(buf, cpu)),
            "stats": text_file(LISTING_MODE, lambda: trace.stats(cpu)),
            "trace": seq_file(SETTING_MODE, TraceListing(trace, cpu), lambda buf: None,
                              lambda: trace.buffer.reset(cpu)),
            "trace_pipe": pipe(cpu),
            "trace_pipe_raw": raw(cpu),
        })

    return {
        "trace": seq_file(SETTING_MODE, TraceListing(trace), lambda buf: None, trace.clear),
        "trace_pipe": pipe(None),
        "trace_marker": File(MARKER_MODE, _writer(
            lambda buf, opener: trace.mark(buf, opener.pid, marker_triggers,
                                           lambda: opener.comm,
                                           opener.cpu(trace.tracing.ncpus)))),
        "trace_marker_raw": File(MARKER_MODE, _writer(
            lambda buf, opener: trace.mark_raw(buf, opener.pid,
                                               opener.cpu(trace.tracing.ncpus)))),
        "free_buffer": File(CONTROL_MODE, lambda opener: ReleaseHandle(
            lambda: trace.tracing.free_buffer(trace.options.values["disable_on_free"]))),
        "per_cpu": Directory(DIR_MODE, {f"cpu{cpu}": cpu_dir(cpu)
                                        for cpu in range(trace.tracing.ncpus)}),
    }


def option_files(options: TraceOptions) -> dict[str, Node]:
    """``trace_options`` and ``options/``."""

    def option(name: str) -> File:
        return text_file(MODE_OPTION_FILE, lambda: options.option_file_render(name),
                         lambda buf: options.option_file_write(name, buf))

    return {
        "trace_options": text_file(MODE_TRACE_OPTIONS, options.render_trace_options,
                                   options.write_trace_options),
        "options": Directory(MODE_OPTIONS_DIR, {name: option(name) for name in options.names()}),
    }


def instance_files(inst: Instance, events: Directory,
                   marker_triggers: MarkerTriggers) -> dict[str, Node]:
    """Every file an instance directory has (the top level adds its own); a marker
    written runs ``marker_triggers``."""
    layer, tracing = inst.layer, inst.tracing
    files: dict[str, Node] = {
        "events": events,
        "set_event": text_file(SETTING_MODE, layer.set_event_text, layer.set_event_write,
                               layer.disable_all),
    }
    for name, setting in tracing.settings(layer.error_log).items():
        files[name] = setting_file(setting)
    files.update(trace_files(inst.trace, marker_triggers))
    files.update(option_files(inst.options))
    for name, value in (("set_ftrace_pid", inst.ftrace_pids),
                        ("set_ftrace_notrace_pid", inst.ftrace_notrace_pids),
                        ("set_ftrace_filter", inst.ftrace_filter),
                        ("set_ftrace_notrace", inst.ftrace_notrace)):
        files[name] = text_file(MODES.get(name, SETTING_MODE), value.render, value.write,
                                value.clear)
    files["buffer_subbuf_size_kb"] = text_file(SETTING_MODE, lambda: SUBBUF_SIZE_KB,
                                               _only(SUBBUF_SIZE_KB))
    files["timestamp_mode"] = text_file(LISTING_MODE, lambda: TIMESTAMP_MODE)
    return files


def _only(value: str) -> Callable[[bytes], None]:
    """A write that takes the one value the file has."""

    def write(buf: bytes) -> None:
        if buf.decode("latin-1").strip() != value.strip():
            raise TpfsError(errno.EINVAL, f"only {value.strip()} is supported")

    return write


class Instances:
    """``instances/``: the instances made with ``mkdir``, by name."""

    def __init__(self, make: Callable[[str], Instance], destroy: Callable[[Instance], None],
                 directory: Callable[[Instance], Directory]) -> None:
        self._make = make
        self._destroy = destroy
        self._directory = directory
        self.by_name: dict[str, Instance] = {}
        self._dirs: dict[str, Directory] = {}
        self.generation = 0

    def listing(self) -> Sequence[tuple[ChildKey, str]]:
        return [(name, name) for name in sorted(self.by_name)]

    def lookup(self, name: str) -> Node | None:
        return self._dirs.get(name)

    def mkdir(self, name: str) -> None:
        if len(os.fsencode(name)) > NAME_MAX:
            raise TpfsError(errno.ENAMETOOLONG, f"an instance name over {NAME_MAX} bytes")
        if name in self.by_name:
            raise TpfsError(errno.EEXIST, f"instance {name} exists")
        if not name or "/" in name or name in (".", ".."):
            raise TpfsError(errno.EINVAL, f"bad instance name {name!r}")
        if len(self.by_name) >= MAX_INSTANCES:
            raise TpfsError(errno.ENOSPC, f"more than {MAX_INSTANCES} instances")
        inst = self._make(name)
        self.by_name[name] = inst
        self._dirs[name] = self._directory(inst)
        self.generation += 1

    def rmdir(self, name: str) -> None:
        inst = self.by_name.get(name)
        if inst is None:
            raise TpfsError(errno.ENOENT, f"no instance {name}")
        if inst.open_files:
            raise TpfsError(errno.EBUSY, f"instance {name} has open files")
        del self.by_name[name], self._dirs[name]
        self._destroy(inst)
        self.generation += 1



