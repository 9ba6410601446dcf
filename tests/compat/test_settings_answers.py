"""Answers the kernel gives to odd settings writes and names, on tpfs and on the kernel.

``buffer_size_kb`` (the top level's and each CPU's) is ``tracing_entries_write``:
``kstrtoul_from_user`` in base 10, so a leading ``+`` and a NUL end are taken,
a space on either side or a second newline is EINVAL and a number past 64 bits
ERANGE. ``instances/`` takes names of at most ``NAME_MAX`` (255) bytes: a longer
one is ENAMETOOLONG (tracefs's ``simple_lookup``), which FUSE does not check for
the daemon. The kernel's top-level buffer only sees refused writes here; sizes
change in an instance made for the test.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat.kernel import errno_of, write

REFUSED = [(b" 12", errno.EINVAL), (b"12 ", errno.EINVAL), (b"12\n\n", errno.EINVAL),
           (b"0x10", errno.EINVAL), (b"\n", errno.EINVAL),
           (b"99999999999999999999", errno.ERANGE), (b"1" * 70, errno.ERANGE)]
NAME = "tpfs_answers"


@contextlib.contextmanager
def instance(tracefs: Path, name: str = NAME) -> Iterator[Path]:
    path = tracefs / "instances" / name
    os.mkdir(path)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(path)


def size_after(path: Path, data: bytes) -> str:
    write(path, data)
    return path.read_text()


@pytest.mark.parametrize(("data", "code"), REFUSED, ids=repr)
def test_a_refused_buffer_size_changes_nothing(tracefs: Path, data: bytes, code: int) -> None:
    with instance(tracefs) as inst:
        files = [tracefs / "buffer_size_kb", tracefs / "per_cpu/cpu0/buffer_size_kb",
                 inst / "buffer_size_kb", inst / "per_cpu/cpu1/buffer_size_kb"]
        before = [f.read_text() for f in files]
        for path in files:
            assert errno_of(write, path, data) == code, path
        assert [f.read_text() for f in files] == before


@pytest.mark.parametrize("file", ["buffer_size_kb", "per_cpu/cpu1/buffer_size_kb"])
def test_a_buffer_size_is_read_as_kstrtoul_reads_it(tracefs: Path, file: str) -> None:
    with instance(tracefs) as inst:
        path = inst / file
        twelve = size_after(path, b"12\n")
        sixteen = size_after(path, b"16")
        assert twelve != sixteen
        assert size_after(path, b"+12") == twelve
        assert size_after(path, b"16\0") == sixteen
        assert size_after(path, b"012") == twelve  # base 10: no octal
        assert size_after(path, b"16\0 junk after the end") == sixteen


def test_an_instance_name_is_at_most_255_bytes(tracefs: Path) -> None:
    with instance(tracefs, "a" * 255) as inst:
        assert inst.is_dir()
    for length in (256, 1000):
        path = tracefs / "instances" / ("b" * length)
        assert errno_of(os.mkdir, path) == errno.ENAMETOOLONG
        assert errno_of(os.stat, path) in (errno.ENOENT, errno.ENAMETOOLONG)
    assert errno_of(os.mkdir, tracefs / "instances" / ("é" * 128)) == errno.ENAMETOOLONG
    assert not [n for n in os.listdir(tracefs / "instances") if n.startswith(("a" * 200, "b"))]
