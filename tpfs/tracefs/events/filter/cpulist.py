"""``bitmap_parselist``: the CPU lists a filter's ``CPUS{...}`` operand (and
``tracing_cpumask``-like settings) take, as the kernel reads them."""

from __future__ import annotations

from ...kstr import SPACES


def cpulist_parse(text: str, nbits: int) -> int | None:
    """``bitmap_parselist``: the mask ``text`` names in ``nbits`` bits, or None if refused."""
    lastbit = nbits - 1
    pos = 0
    mask = 0

    def number() -> int | None:
        nonlocal pos
        if text[pos:pos + 1] == "N":
            pos += 1
            return lastbit
        start = pos
        while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        if pos == start or int(text[start:pos]) >> 32:
            return None
        return int(text[start:pos])

    def at_region_end() -> bool:
        return pos >= len(text) or text[pos] in SPACES + ","

    while True:
        while pos < len(text) and text[pos] in SPACES + ",":
            pos += 1
        if pos >= len(text) or text[pos] == "\n":
            return mask
        if text[pos:pos + 3].lower() == "all":
            start, end = 0, lastbit
            pos += 3
        else:
            first = number()
            if first is None:
                return None
            start = end = first
            if not at_region_end():
                if text[pos] != "-":
                    return None
                pos += 1
                last = number()
                if last is None:
                    return None
                end = last
        off = group = end + 1
        plain = at_region_end()
        if not plain:
            if text[pos] != ":":
                return None
            pos += 1
            got_off = number()
            if got_off is None or text[pos:pos + 1] != "/":
                return None
            pos += 1
            got_group = number()
            if got_group is None:
                return None
            off, group = got_off, got_group
        if start > end or group == 0 or off > group or end >= nbits:
            return None
        for first_bit in range(start, end + 1, group):  # bitmap_set_region
            mask |= ((1 << min(end - first_bit + 1, off)) - 1) << first_bit
        if plain and text[pos:pos + 1] in ("", "\n"):  # only a plain region ends at a newline
            return mask


def cpulist_valid(text: str, nbits: int) -> bool:
    """Whether ``bitmap_parselist`` takes ``text`` for a mask of ``nbits`` bits."""
    return cpulist_parse(text, nbits) is not None
