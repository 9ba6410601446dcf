"""The kernel's number, mask and cpulist parsers, on machines of other sizes than this one.

The compat suite proves these against this machine's kernel (2 CPUs); here
the same rules run for masks of several 32-bit chunks.
"""

from __future__ import annotations

import errno

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.tracefs.events.filter import cpulist_valid
from tpfs.tracefs.kstr import kstrtoull
from tpfs.tracefs.trace.settings import parse_cpumask, show_cpumask


@pytest.mark.parametrize(("nbits", "mask", "shown"), [
    (2, 3, "3"), (4, 5, "5"), (40, (1 << 40) - 1, "ff,ffffffff"), (40, 1, "00,00000001"),
    (64, 1 << 63, "80000000,00000000"), (33, 1 << 32, "1,00000000")])
def test_cpumask_shows_as_bitmap_string(nbits: int, mask: int, shown: str) -> None:
    assert show_cpumask(mask, nbits) == shown
    assert parse_cpumask(shown + "\n", nbits) == mask


@pytest.mark.parametrize(("text", "nbits", "mask"), [
    ("ff,ffffffff", 40, (1 << 40) - 1), ("1,,0", 40, 1 << 32), ("1 0", 40, 1 << 32), ("", 8, 0),
    ("3\n5", 2, 3)])
def test_cpumask_parses_as_bitmap_parse(text: str, nbits: int, mask: int) -> None:
    assert parse_cpumask(text, nbits) == mask


@pytest.mark.parametrize(("text", "nbits", "err"), [
    ("100,00000000", 40, errno.EOVERFLOW), ("1,0,0", 40, errno.EOVERFLOW),
    ("123456789", 64, errno.EOVERFLOW), ("1x2", 64, errno.EINVAL)])
def test_cpumask_refuses_as_bitmap_parse(text: str, nbits: int, err: int) -> None:
    with pytest.raises(TpfsError) as exc:
        parse_cpumask(text, nbits)
    assert exc.value.errno == err


@pytest.mark.parametrize(("text", "value"), [
    ("0x1F", 31), ("017", 15), ("+5", 5), ("0", 0), ("5\n", 5),
    ("18446744073709551615", 2**64 - 1)])
def test_kstrtoull_takes(text: str, value: int) -> None:
    assert kstrtoull(text) == value


@pytest.mark.parametrize(("text", "signed", "error"), [
    ("08", False, ValueError), ("0x", False, ValueError), ("-1", False, ValueError),
    ("", False, ValueError), ("18446744073709551616", False, OverflowError),
    ("99999999999999999999x", False, OverflowError), ("9223372036854775808", True, OverflowError),
    ("-9223372036854775809", True, OverflowError), ("-+5", True, ValueError)])
def test_kstrtoull_refuses(text: str, signed: bool, error: type[Exception]) -> None:
    with pytest.raises(error):
        kstrtoull(text, signed)


@pytest.mark.parametrize(("text", "ok"), [
    ("0-3", True), ("0-7:2/4", True), ("all", True), ("N", True), ("0,2, 5", True),
    ("8", False), ("3-1", False), ("0-3:5/4", False), ("0-3:1/0", False), ("a", False),
    ("1-", False), ("4294967296", False), ("0\n-1:1/2", True), ("0-1:1/2\nx", False)])
def test_cpulist_as_bitmap_parselist_with_eight_cpus(text: str, ok: bool) -> None:
    assert cpulist_valid(text, 8) is ok
