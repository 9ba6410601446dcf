"""Types of the native ``_render`` (``_render.c``): events' texts from libtraceevent."""

from collections.abc import Callable, Sequence

def texts(tep: int, items: Sequence[tuple[bytes, int, int]], /) -> list[str]:
    """Each ``(record, cpu, ts)`` printed with ``TEP_PRINT_INFO`` by the handle ``tep``."""

def lines(tep: int, kinds: bytearray, syscalls: dict[int, bytes],
          runs: list[tuple[int, int, list[int], list[bytes]]],
          taken: list[int], out: bytearray, want: int, limit: int,
          options: tuple[bool, bool, bool, bool], comm_of: Callable[[int], str],
          tgid_of: Callable[[int], int | None],
          body_of: Callable[[bytes, int, int], str], /) -> int:
    """``trace_pipe``'s lines of ``runs`` appended to ``out``; a used-up run's index or -1."""
