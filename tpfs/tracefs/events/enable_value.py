"""What a write to an ``enable`` file says: a number as ``kstrtoul`` reads it,
then (for an event's file) 0 or 1."""

from __future__ import annotations

import errno

from ...kernel.errors import TpfsError


def parse_enable_number(buf: bytes) -> int:
    """An enable file's value as kstrtoul reads it, before any 0/1 check."""
    text = buf.decode("ascii", "replace")
    if text.endswith("\n"):
        text = text[:-1]
    if not text.isdigit() or not text.isascii():
        raise TpfsError(errno.EINVAL, f"not a number: {text!r}")
    return int(text)


def parse_bool(buf: bytes) -> bool:
    """An enable file's value, as kstrtoul then a 0/1 check accept it."""
    value = parse_enable_number(buf)
    if value not in (0, 1):
        raise TpfsError(errno.EINVAL, f"enable takes 0 or 1, not {value}")
    return bool(value)
