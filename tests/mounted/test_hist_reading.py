"""Reading a large ``hist`` file through a mount in small reads while its
histogram changes: every line whole, no entry twice, in sort order, and the
daemon answering other requests between the reads.

The text's format is tests/mounted/test_hist_triggers.py's; here the reads.
"""

from __future__ import annotations

import errno
import os
import re
import time

import pytest

from tpfs.tools.mounting import Mount
from tpfs.tracefs.events.hist.sort_budget import MAX_RESERVED_ENTRIES

KMALLOC = "events/kmem/kmalloc/"
TRIGGER = "hist:keys=call_site:vals=bytes_req:sort=call_site:size=16384"
ENTRY = re.compile(r"\{ call_site: +(\d+) \} hitcount: +\d+  bytes_req: +\d+\n")


def fire_sites(mount: Mount, sites: range) -> None:
    lines = [f"kmem:kmalloc call_site={site} bytes_req=8\n" for site in sites]
    for at in range(0, len(lines), 1000):  # writes well under a FUSE write's size
        mount.write("fire", "".join(lines[at:at + 1000]))


def test_small_reads_of_a_changing_hist(tpfs: Mount) -> None:
    tpfs.write(KMALLOC + "trigger", TRIGGER)
    fire_sites(tpfs, range(0, 12000, 2))  # 6,000 entries, even sites
    whole = tpfs.read(KMALLOC + "hist")
    assert len(ENTRY.findall(whole)) == 6000

    fd = os.open(tpfs / (KMALLOC + "hist"), os.O_RDONLY)
    try:
        chunks = []
        odd = iter(range(1, 12000, 2))
        while chunk := os.read(fd, 100):
            chunks.append(chunk)
            if len(chunks) % 50 == 0:  # new keys between the ones not yet read,
                fire_sites(tpfs, range(next(odd), next(odd) + 1))
                tpfs.write("fire", "kmem:kmalloc call_site=0 bytes_req=1\n")  # a change
    finally:
        os.close(fd)
    text = b"".join(chunks).decode()
    body = text.split("#\n\n", 1)[1].split("\nTotals:")[0]
    assert len(ENTRY.findall(body)) == body.count("\n")  # every line whole
    sites = [int(m.group(1)) for m in ENTRY.finditer(body)]
    assert sites == list(range(0, 12000, 2))  # each entry once, sorted, none added later
    assert "    Entries: 6" in text and "    Dropped: 0\n" in text

    # Cleared part-way: the entries end there and the totals follow.
    fd = os.open(tpfs / (KMALLOC + "hist"), os.O_RDONLY)
    try:
        head = os.read(fd, 4000)
        tpfs.write(KMALLOC + "trigger", TRIGGER + ":clear")
        fire_sites(tpfs, range(50000, 50010))
        rest = []
        while chunk := os.read(fd, 100):
            rest.append(chunk)
    finally:
        os.close(fd)
    text = (head + b"".join(rest)).decode()
    sites = [int(m.group(1)) for m in ENTRY.finditer(text)]
    assert 0 < len(sites) < 200 and sites == sorted(set(sites)) and max(sites) < 12000
    assert text.endswith("\nTotals:\n    Hits: 10\n    Entries: 10\n    Dropped: 0\n")


def test_open_hist_handles_together_are_capped(tpfs: Mount) -> None:
    """Each handle reserves its histogram's whole map (``size=131072``: 128 Ki
    positions) before the header shows; all of them together at most
    ``MAX_RESERVED_ENTRIES``. One more is ENOMEM and changes nothing; once a handle
    closes it reads the whole file."""
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site:size=131072")
    fire_sites(tpfs, range(10))
    whole = tpfs.read(KMALLOC + "hist").encode()
    room = MAX_RESERVED_ENTRIES // 131072
    fds = [os.open(tpfs / (KMALLOC + "hist"), os.O_RDONLY) for _ in range(room + 1)]
    try:
        for fd in fds[:room]:
            assert os.read(fd, 40) == whole[:40]
        with pytest.raises(OSError) as refused:
            os.read(fds[room], 40)
        assert refused.value.errno == errno.ENOMEM
        assert tpfs.read(KMALLOC + "trigger").startswith("hist:keys=call_site")  # still served
        os.close(fds.pop(0))
        # FUSE sends the release after close() returns: the first read may come before.
        deadline = time.monotonic() + 10
        while True:
            try:
                first = os.read(fds[-1], 4096)
                break
            except OSError as exc:
                if exc.errno != errno.ENOMEM or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        assert first + b"".join(iter(lambda: os.read(fds[-1], 4096), b"")) == whole
    finally:
        for fd in fds:
            os.close(fd)
