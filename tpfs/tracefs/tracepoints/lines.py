"""Every line format of the registry's own files, shown and parsed in one place.

The listings and the per-module and per-name files render their lines with
the ``show_*`` functions here, and the checker (``tpfs.tools.check``) reads
them back with the ``parse_*`` functions beside them, so a format is written
down once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...kernel.registry import Module, Tracepoint, TracepointEntry


def show_event(tp: Tracepoint) -> str:
    """An ``available_events`` line."""
    return f"{tp.name}\n"


def show_tracepoint(tp: Tracepoint) -> str:
    """A ``tracepoints`` line: ``SUBSYS:EVENT OWNER STATE NPROBES``."""
    return f"{tp.name} {tp.owner} {int(tp.state)} {tp.nprobes}\n"


@dataclass(frozen=True, slots=True)
class TracepointLine:
    name: str
    owner: str
    state: bool
    nprobes: int


def parse_tracepoint(line: str) -> TracepointLine | None:
    """A ``tracepoints`` line without its newline; None if it is malformed."""
    parts = line.split(" ")
    if len(parts) != 4 or parts[2] not in ("0", "1") or not parts[3].isdigit():
        return None
    return TracepointLine(parts[0], parts[1], parts[2] == "1", int(parts[3]))


def show_module(module: Module) -> str:
    """``modules/NAME``: its address, taints, whether it registered, its tracepoints."""
    lines = [
        f"address {module.address:#x}",
        f"taints {module.taints or '-'}",
        f"registered {'yes' if module.registered else 'no'}",
    ]
    lines.extend(f"tracepoint {name}" for name in module.events)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class ModuleFile:
    """What ``modules/NAME`` says."""

    address: int
    taints: str
    registered: bool
    events: tuple[str, ...]


def parse_module(text: str) -> ModuleFile:
    fields: dict[str, str] = {}
    events: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "tracepoint":
            events.append(value)
        else:
            fields[key] = value
    taints = fields["taints"]
    return ModuleFile(int(fields["address"], 16), "" if taints == "-" else taints,
                      fields["registered"] == "yes", tuple(events))


def show_entry(entry: TracepointEntry) -> str:
    """``probes/SUBSYS:EVENT``: one ``PROBE DATA HITS`` line per probe, in array order."""
    return "".join(f"{p.func} {p.data:#x} {entry.hits.get(p, 0)}\n" for p in entry.funcs)
