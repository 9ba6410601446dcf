"""Types of the native ``_commit`` (``_commit.c``): many events laid out on a page at once."""

def fill(data: bytearray, write_stamp: int, stamps: list[int], payloads: list[bytes],
         start: int, /) -> tuple[int, int, int]:
    """Lay the events from ``start`` on out after ``data`` while they fit the page:
    (the first event left, the last time stamp written, the bytes added)."""
