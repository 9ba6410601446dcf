"""How a string predicate matches: ``filter_build_regex`` and the ``regex_match_*``
functions (full, front, middle, end, glob), bytes for bytes with their quirks."""

from __future__ import annotations

import re
from collections.abc import Callable

#: A matcher over a buffer, where the text starts and the length the kernel
#: passes (0: up to the NUL).
Matcher = Callable[[bytes, int, int], bool]


def cstr(buf: bytes, start: int) -> bytes:
    """The C string at ``start``: up to its NUL, or the end of the buffer."""
    end = buf.find(b"\0", start)
    return buf[start:] if end < 0 else buf[start:end]


def _glob_class(pat: bytes, i: int) -> tuple[bytes, int] | None:
    """A ``[...]`` class at ``pat[i:]`` (past the ``[``) as ``glob_match`` reads it:
    its regex and where the pattern goes on, or None if malformed (then ``[`` is literal)."""
    n = len(pat)
    inverted = pat[i:i + 1] == b"!"
    i += inverted
    spans: list[bytes] = []
    first = True
    while first or pat[i:i + 1] != b"]":
        first = False
        if i >= n:
            return None
        low = high = pat[i]
        i += 1
        if pat[i:i + 1] == b"-" and pat[i + 1:i + 2] != b"]":
            if i + 1 >= n:
                return None
            high = pat[i + 1]
            i += 2
        if low <= high:  # a reversed range matches nothing
            spans.append(b"\\x%02x-\\x%02x" % (low, high))
    body = b"".join(spans)
    if not body:
        return (b"." if inverted else b"(?!)"), i + 1
    return b"[" + b"^" * inverted + body + b"]", i + 1


def _glob_regex(pat: bytes) -> re.Pattern[bytes]:
    """``glob_match``'s language as a regex: ``*``, ``?``, classes, ``\\`` escapes."""
    out: list[bytes] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i:i + 1]
        i += 1
        if c == b"*":
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"[" and (cls := _glob_class(pat, i)) is not None:
            out.append(cls[0])
            i = cls[1]
        else:
            if c == b"\\":
                c, i = pat[i:i + 1], i + 1  # a trailing "\\" matches the string's end
            out.append(re.escape(c))
    return re.compile(b"".join(out), re.DOTALL)


def build_regex(pattern: bytes, glob: bool) -> tuple[Matcher, bool]:
    """``filter_build_regex``: the matcher for a pattern, and whether it is negated
    (``~ "!..."``). ``==`` and ``!=`` match the text whole; ``~`` reads a leading
    ``!``, then ``*`` at an end (front, end, middle match) or a full glob."""
    negated = False
    kind = "full"
    if glob:
        if pattern.startswith(b"!"):
            negated, pattern = True, pattern[1:]
        if not pattern[:1].isdigit():
            for i, ch in enumerate(pattern):
                if ch == ord("*"):
                    if i == 0:
                        kind = "end"
                    elif i == len(pattern) - 1:
                        kind = "middle" if kind == "end" else "front"
                        pattern = pattern[:i]
                        break
                    else:
                        kind = "glob"
                        break
                elif ch in b"[?\\":
                    kind = "glob"
                    break
            if kind in ("end", "middle"):
                pattern = pattern[1:]
    plen = len(pattern)

    def full(buf: bytes, start: int, length: int) -> bool:  # strncmp over the length
        if not length:
            return cstr(buf, start) == pattern
        seg = buf[start:start + length]
        nul = seg.find(b"\0")
        return (seg if nul < 0 else seg[:nul]) == pattern[:length]

    def front(buf: bytes, start: int, length: int) -> bool:
        return not 0 < length < plen and buf[start:start + plen] == pattern

    def middle(buf: bytes, start: int, length: int) -> bool:  # strnstr: past NULs too
        return pattern in (buf[start:start + length] if length else cstr(buf, start))

    def end(buf: bytes, start: int, length: int) -> bool:  # the last length - 1 bytes
        last = start + length - 1
        return length - 1 >= plen and buf[last - plen:last] == pattern

    if kind == "glob":
        fullmatch = _glob_regex(pattern).fullmatch
        return (lambda buf, start, length: fullmatch(cstr(buf, start)) is not None), negated
    return {"full": full, "front": front, "middle": middle, "end": end}[kind], negated
