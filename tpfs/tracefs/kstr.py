"""The kernel's string helpers that several tracefs files share.

``isspace``, the number parsers of lib/kstrtox.c as the tracing files call
them, and the string limits the filter and hist code agree on. One place, so
that a file that parses a number answers as every other one does.
"""

from __future__ import annotations

import errno

from ..kernel.errors import TpfsError

#: The kernel's ``isspace()`` (what ``strstrip`` and ``skip_spaces`` skip).
SPACES = " \t\n\v\f\r"
HEX = "0123456789abcdefABCDEF"
#: ``MAX_FILTER_STR_VAL``: the longest string a filter or a hist key compares.
MAX_FILTER_STR_VAL = 256
#: ``kstrtoul_from_user`` reads at most this many bytes of a write.
KSTRTOUL_USER_MAX = 66

def kstrtoull(text: str, signed: bool = False) -> int:
    """The kernel's ``kstrtoull`` (or ``kstrtoll``) in base 0.

    Raises OverflowError where the kernel answers ERANGE, ValueError where EINVAL.
    """
    negative = signed and text.startswith("-")
    if negative or text.startswith("+"):
        text = text[1:]
    base = 10
    if text.startswith("0"):
        base = 16 if text[1:2] in ("x", "X") and text[2:3] in tuple(HEX) else 8
        text = text[2:] if base == 16 else text
    valid = HEX if base == 16 else HEX[:base]
    end = 0
    while end < len(text) and text[end] in valid:
        end += 1
    value = int(text[:end], base) if end else 0
    if value >> 64:
        raise OverflowError(text)
    if not end or text[end:] not in ("", "\n"):
        raise ValueError(text)
    if signed and value > (1 << 63) - (not negative):
        raise OverflowError(text)
    return -value if negative else value

def kstrtoul_from_user(buf: bytes) -> int:
    """``kstrtoul_from_user(buf, count, 10, &val)``: EINVAL or ERANGE as the kernel says."""
    text = buf[:KSTRTOUL_USER_MAX].split(b"\0", 1)[0]
    if text.endswith(b"\n"):
        text = text[:-1]
    if text.startswith(b"+"):
        text = text[1:]
    if not text or not text.isdigit():
        raise TpfsError(errno.EINVAL, f"not a decimal number: {buf[:20]!r}")
    value = int(text)
    if value >> 64:
        raise TpfsError(errno.ERANGE, f"{text[:20]!r}... does not fit an unsigned long")
    return value
