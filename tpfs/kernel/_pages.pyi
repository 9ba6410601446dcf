"""Types of the native ``_pages`` (``_pages.c``): a page's records decoded in one call."""

def decode(data: bytes | bytearray, offset: int, stamp: int, limit: int,
           /) -> tuple[list[int], list[bytes], list[int]]:
    """The data records from ``offset`` on (at most ``limit``, all for -1): their
    time stamps counted from ``stamp``, their payloads, the offsets after each."""
