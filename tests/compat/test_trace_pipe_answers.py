"""Page-sized boundaries of one CPU's buffer, on tpfs and on the kernel's tracefs.

Each 3,000-byte marker takes a page of its own (a page holds 4,080 bytes of
records), so the test counts pages by counting markers, in an instance made
for it whose CPU 0 buffer is five pages (``buffer_size_kb`` 16):

- the first marker that laps the ring overwrites a page holding one event,
  and ``trace_pipe`` says so: ``CPU:0 [LOST 1 EVENTS]`` before the next line;
- ``buffer_percent`` wakes a waiting reader when the pages the writer left,
  plus the one it is on (``full_hit``'s ``+ 1``), make that share of the ring:
  100 is reached with the writer on the last page, 60 with it on the third.
"""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Iterator
from pathlib import Path

import pytest
from compat.kernel import write

MARKER = "m" * 3000
PAGES = 5

pytestmark = pytest.mark.usefixtures("on_cpu0")


@pytest.fixture
def five_pages(tracefs: Path) -> Iterator[Path]:
    inst = tracefs / "instances" / "tpfs_pages"
    os.mkdir(inst)
    try:
        write(inst / "per_cpu/cpu0/buffer_size_kb", "16")
        assert (inst / "per_cpu/cpu0/buffer_size_kb").read_text() == "19\n"  # five pages
        yield inst
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(inst)


def mark(inst: Path, text: str = MARKER) -> None:
    write(inst / "trace_marker", text, os.O_WRONLY)


def overrun(inst: Path) -> int:
    stats = dict(line.split(": ", 1)
                 for line in (inst / "per_cpu/cpu0/stats").read_text().splitlines())
    return int(stats["overrun"])


def ready(fd: int, timeout: float) -> bool:
    return select.select([fd], [], [], timeout)[0] == [fd]


def test_one_lost_event_is_reported(five_pages: Path) -> None:
    marks = 0
    while overrun(five_pages) == 0:
        assert marks <= 2 * PAGES, "the ring never lapped"
        mark(five_pages, f"{marks:02d} {MARKER}")
        marks += 1
    assert overrun(five_pages) == 1
    fd = os.open(five_pages / "trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        lines = os.read(fd, 65536).splitlines(keepends=True)
    finally:
        os.close(fd)
    assert lines[0] == b"CPU:0 [LOST 1 EVENTS]\n"
    assert b"tracing_mark_write: 01 " in lines[1]  # the first marker went
    assert all(b"[LOST" not in line for line in lines[2:])


@pytest.mark.parametrize(("percent", "pages"), [(100, PAGES), (60, 3), (21, 2)])
def test_buffer_percent_counts_the_page_the_writer_is_on(five_pages: Path, percent: int,
                                                         pages: int) -> None:
    write(five_pages / "buffer_percent", str(percent))
    fd = os.open(five_pages / "per_cpu/cpu0/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        for _ in range(pages - 1):
            mark(five_pages)
        assert not ready(fd, 0.2), f"ready at {pages - 1} of {PAGES} pages"
        mark(five_pages)
        assert ready(fd, 10), f"not ready at {pages} of {PAGES} pages"
    finally:
        os.close(fd)
