"""Types of the native ``_render`` (``_render.c``): events' texts from libtraceevent."""

from collections.abc import Sequence

def texts(tep: int, items: Sequence[tuple[bytes, int, int]], /) -> list[str]:
    """Each ``(record, cpu, ts)`` printed with ``TEP_PRINT_INFO`` by the handle ``tep``."""
