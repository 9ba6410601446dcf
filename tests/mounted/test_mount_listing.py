"""Listing files through a real mount: seq_file behaviour at every read size."""

from __future__ import annotations

import errno
import os
import stat

import pytest
import trio

from tpfs.tracefs.events import catalog

CORE = [e.name for e in catalog.load_embedded().events]


def read_all(path, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while chunk := os.read(fd, size):
            assert len(chunk) <= size
            parts.append(chunk)
        assert os.read(fd, size) == b""  # EOF stays EOF
        return b"".join(parts)
    finally:
        os.close(fd)


def load_modules(tpfs, count: int, per: int = 5) -> None:
    tpfs.write("modules/load", "".join(
        f"mod{i} " + " ".join(f"mod{i}:ev{j}" for j in range(per)) + "\n" for i in range(count)))


def test_listing_attributes(tpfs) -> None:
    for name in ("available_events", "tracepoints"):
        st = os.stat(tpfs / name)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o440
        assert st.st_size == 0 and st.st_uid == os.getuid()


def test_available_events_is_core_then_modules_by_address(tpfs) -> None:
    load_modules(tpfs, 6)
    lines = tpfs.read("available_events").splitlines()
    assert lines[:len(CORE)] == CORE
    addrs = {}
    for i in range(6):
        info = tpfs.read(f"modules/mod{i}").splitlines()
        addrs[f"mod{i}"] = int(info[0].split()[1], 16)
    order = sorted(addrs, key=addrs.get)
    assert lines[len(CORE):] == [f"{m}:ev{j}" for m in order for j in range(5)]
    assert order != sorted(addrs), "seed 1 should load out of address order"


@pytest.mark.parametrize("name", ["available_events", "tracepoints"])
def test_every_read_size_gives_the_same_bytes(small, name: str) -> None:
    load_modules(small, 20, per=7)
    small.write("probes/register", "mod3:ev1 p\ninitcall:initcall_start q 7\n")
    whole = read_all(small / name, 1 << 20)
    assert whole.count(b"\n") == 150 + 140
    for size in (1, 7, 64, 4096, 65536):
        assert read_all(small / name, size) == whole, size


def test_tracepoints_lines(tpfs) -> None:
    tpfs.write("modules/load", "m sched:sched_switch m:a\n")
    tpfs.write("probes/register", "sched:sched_switch p\nsched:sched_switch p 1\n")
    lines = tpfs.read("tracepoints").splitlines()
    assert lines[CORE.index("sched:sched_switch")] == "sched:sched_switch kernel 1 2"
    assert lines[len(CORE):] == ["sched:sched_switch m 1 2", "m:a m 0 0"]
    assert lines[0] == f"{CORE[0]} kernel 0 0"


def test_pread_and_lseek_replay_from_record_zero(tpfs) -> None:
    load_modules(tpfs, 5)
    whole = read_all(tpfs / "available_events", 1 << 20)
    fd = os.open(tpfs / "available_events", os.O_RDONLY)
    try:
        assert os.read(fd, 100) == whole[:100]
        assert os.pread(fd, 50, 10_000) == whole[10_000:10_050]
        assert os.pread(fd, 50, 3) == whole[3:53]
        os.lseek(fd, 777, os.SEEK_SET)
        assert os.read(fd, 10) == whole[777:787]
        assert os.pread(fd, 10, len(whole) + 10) == b""
    finally:
        os.close(fd)


def test_writing_a_listing_is_einval(tpfs) -> None:
    for name in ("available_events", "tracepoints"):
        with pytest.raises(OSError) as exc:
            tpfs.write(name, "x\n")
        assert exc.value.errno == errno.EINVAL
    assert tpfs.read("available_events").splitlines() == CORE


async def test_handles_keep_their_own_cursors(small) -> None:
    load_modules(small, 10)
    whole = read_all(small / "available_events", 1 << 20)
    fds = [os.open(small / "available_events", os.O_RDONLY) for _ in range(5)]
    results: dict[int, list[bytes]] = {n: [] for n in range(5)}

    async def reader(n: int, size: int) -> None:
        # Every handle reads its next chunk in turn with the others, from its own thread.
        while chunk := await trio.to_thread.run_sync(os.read, fds[n], size):
            results[n].append(chunk)

    try:
        async with trio.open_nursery() as nursery:
            for n, size in enumerate((1, 3, 7, 64, 500)):
                nursery.start_soon(reader, n, size)
    finally:
        for fd in fds:
            os.close(fd)
    assert [b"".join(parts) for parts in results.values()] == [whole] * 5
