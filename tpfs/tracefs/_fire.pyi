"""Types of the native ``_fire`` (``_fire.c``): a ``fire`` write parsed and encoded in one call."""

from collections.abc import Sequence

class Table:
    """An event's layout compiled for ``parse``."""

def compile(event_id: int, fixed_size: int,
            fields: Sequence[tuple[bytes, int, int, int, int, int, int, int]], /) -> Table:
    """``fields``: (name, offset, size, signed, kind, text, rel, role) in format order."""

def parse(buf: bytes, tables: dict[str, Table], ncpus: int, pid: int,
          /) -> list[tuple[str, int | None, int | None, str | None, int, bytes]] | None:
    """Each line's (name, @cpu, @pid, @comm, @count, record), or None: Python parses."""
