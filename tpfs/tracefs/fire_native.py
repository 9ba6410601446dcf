"""The ``fire`` file's native parse: a whole write's lines parsed and their records
encoded in one call (``_fire.c``), for the events it has a table of.

``FireTables`` keeps one compiled table per event name, made from the
``Layout`` Python's parse used the first time the event was fired (so the
first write of an event, and every write with an error, is parsed by
Python: ``fire.Firer.parse`` stays the one source of truth for errors). A
table is used only while the event still exists with the layout it was
compiled from; an event removed, or registered again with another format,
sends the write back to Python's parse, which compiles the new table.
"""

from __future__ import annotations

from . import _fire
from .trace.record import COMMON_FIELD_NAMES, Layout

#: ``EventField.kind`` as ``_fire.c`` numbers it.
_KINDS = {"scalar": 0, "array": 1, "tail": 2, "dynamic": 3}
#: The common fields, whose values the encoder sets itself (0: a field of the event's own).
_ROLES = {name: i + 1 for i, name in enumerate(COMMON_FIELD_NAMES)}
#: Field sizes a scalar can have natively.
_SCALAR_SIZES = (1, 2, 4, 8)

Line = tuple[str, int | None, int | None, str | None, int, bytes]
#: Tables kept at most (as the layouts' own cache): past this all are dropped and
#: the events fired since are compiled again as they are fired.
MAX_TABLES = 4096


def compile_layout(event: Layout) -> _fire.Table | None:
    """``event``'s table for the native parse, or None if its fields are not all of
    a form the native encoder knows (then Python parses its lines)."""
    names = [f.name for f in event.fields]
    if len(set(names)) != len(names):
        return None
    rows = []
    for f in event.fields:
        if f.kind not in _KINDS or f.kind == "scalar" and f.size not in _SCALAR_SIZES:
            return None
        rows.append((f.name.encode(), f.offset, f.size, int(f.signed), _KINDS[f.kind],
                     int(f.is_text), int(f.type.startswith("__rel_loc")),
                     _ROLES.get(f.name, 0)))
    try:
        return _fire.compile(event.id, event.fixed_size, rows)
    except (ValueError, OverflowError):
        return None


class FireTables:
    """The compiled tables of the events fired so far, by name."""

    __slots__ = ("tables", "layouts")

    def __init__(self) -> None:
        self.tables: dict[str, _fire.Table] = {}
        #: The layout each table was compiled from.
        self.layouts: dict[str, Layout] = {}

    def learn(self, name: str, event: Layout) -> None:
        """Compile ``event``'s table for ``name`` unless it has it already."""
        if self.layouts.get(name) is event:
            return
        table = compile_layout(event)
        if table is None:
            self.forget(name)
            return
        if len(self.tables) >= MAX_TABLES:
            self.tables.clear()
            self.layouts.clear()
        self.tables[name] = table
        self.layouts[name] = event

    def forget(self, name: str) -> None:
        self.tables.pop(name, None)
        self.layouts.pop(name, None)

    def parse(self, buf: bytes, ncpus: int, pid: int) -> list[Line] | None:
        """Each line's (name, @cpu, @pid, @comm, @count, record), or None when Python
        must parse the write. The caller checks that each name still has its layout."""
        return _fire.parse(buf, self.tables, ncpus, pid)
