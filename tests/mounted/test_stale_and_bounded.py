"""Open files whose object went, names that would collide with fixed files,
readdir cookies under rewinddir, reads after one's own write, and word
splitting in control files: through a real mount."""

from __future__ import annotations

import ctypes
import errno
import os
import platform

import pytest
from mounted.test_robustness import vm_rss_kib

from tpfs.tools.mounting import Mount

EVENT_FILES = ("enable", "filter", "trigger", "id", "format")


def errno_of(fn, *args) -> int:
    with pytest.raises(OSError) as exc:
        fn(*args)
    return exc.value.errno


@pytest.mark.parametrize("leaf", [f"events/staly/ev/{f}" for f in EVENT_FILES]
                         + ["events/staly/enable", "events/staly/filter", "modules/stalemod"])
def test_files_of_a_gone_object_answer_enodev_and_change_nothing(small: Mount, leaf: str) -> None:
    small.write("modules/load", "stalemod staly:ev\n")
    fd = os.open(small / leaf, os.O_RDWR if not leaf.endswith(("id", "format", "stalemod"))
                 else os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 0)  # alive: reads
        small.write("modules/unload", "stalemod\n")
        assert os.fstat(fd).st_size == 0  # fstat keeps working on the open file
        assert errno_of(os.pread, fd, 4096, 0) == errno.ENODEV
        if os.fstat(fd).st_mode & 0o200:
            for text in (b"1", b"common_pid == 1", b"traceoff"):
                assert errno_of(os.write, fd, text) == errno.ENODEV
        # A module that defines the name again starts clean and the old fd stays stale.
        small.write("modules/load", "stalemod staly:ev\n")
        assert errno_of(os.pread, fd, 4096, 0) == errno.ENODEV
    finally:
        os.close(fd)
    assert small.read("events/staly/ev/enable") == "0\n"
    assert small.read("events/staly/ev/filter") == "none\n"
    assert "staly:ev" not in small.read("set_event")
    assert "probes/staly:ev" not in str(os.listdir(small / "probes"))


def test_an_event_file_lives_while_any_module_defines_its_name(small: Mount) -> None:
    """A second module defining the name, then the first one going, keep the name
    defined: the open files go on working until the last definer goes."""
    small.write("modules/load", "firstdef shared:ev\n")
    fds = [os.open(small / "events/shared/ev/enable", os.O_RDONLY),
           os.open(small / "events/shared/enable", os.O_RDONLY)]
    try:
        small.write("modules/load", "seconddef shared:ev\n")
        small.write("modules/unload", "firstdef\n")
        small.write("modules/load", "thirddef shared:ev\n")
        small.write("modules/unload", "seconddef\n")
        assert [os.pread(fd, 100, 0) for fd in fds] == [b"0\n", b"0\n"]
        small.write("modules/unload", "thirddef\n")
        assert [errno_of(os.pread, fd, 100, 0) for fd in fds] == [errno.ENODEV] * 2
    finally:
        for fd in fds:
            os.close(fd)


def test_a_stale_probe_file_answers_enodev(small: Mount) -> None:
    small.write("probes/register", "a:b p\n")
    fd = os.open(small / "probes/a:b", os.O_RDONLY)
    try:
        assert os.read(fd, 100) == b"p 0x0 0\n"
        small.write("probes/unregister", "a:b p\n")
        small.write("probes/register", "a:b q\n")  # a new entry, not the one opened
        assert os.fstat(fd).st_mode & 0o440
        assert errno_of(os.pread, fd, 100, 0) == errno.ENODEV
    finally:
        os.close(fd)


@pytest.mark.parametrize("line", ["m1 enable:foo", "m1 header_page:bar", "m1 header_event:x",
                                  "m1 x:enable", "m1 x:filter", "m1 ok:ev x:enable"])
def test_names_that_would_collide_with_fixed_files_are_refused(small: Mount, line: str) -> None:
    before = (sorted(os.listdir(small / "events")), small.read("available_events"))
    with pytest.raises(OSError) as exc:
        small.write("modules/load", f"m0 fine:ev\n{line}\n")
    assert exc.value.errno == errno.EINVAL
    assert (sorted(os.listdir(small / "events")), small.read("available_events")) == before
    assert not (small / "modules/m0").exists()


def test_no_directory_lists_a_name_twice(small: Mount) -> None:
    small.write("modules/load", "m1 ok:enabler ok:filtered enabled:x\n")
    for top, dirs, files in os.walk(small / "events"):
        names = dirs + files
        assert len(names) == len(set(names)), top


@pytest.mark.parametrize("sep", ["\x1c", "\x1d", "\x1e", "\x1f", "\x0b", "\x0c", "\r"])
def test_control_words_split_on_space_and_tab_only(small: Mount, sep: str) -> None:
    with pytest.raises(OSError) as exc:
        small.write("modules/load", f"m1{sep}m1:a\n")
    assert exc.value.errno == errno.EINVAL
    small.write("modules/load", "m1 \t m1:a\tm1:b \n")
    assert small.read("modules/m1").splitlines()[3:] == ["tracepoint m1:a", "tracepoint m1:b"]


@pytest.mark.parametrize("name, value, shown",
                         [("tracing_on", b"0", b"0\n"), ("events/sched/sched_switch/enable",
                                                          b"1", b"1\n")])
def test_a_read_from_offset_zero_shows_the_handles_own_write(tpfs: Mount, name: str,
                                                             value: bytes, shown: bytes) -> None:
    fd = os.open(tpfs / name, os.O_RDWR)
    try:
        first = os.pread(fd, 100, 0)
        assert first != shown
        os.write(fd, value)
        assert os.pread(fd, 100, 0) == shown
        assert os.pread(fd, 100, 1) == shown[1:]
    finally:
        os.close(fd)


SYS_GETDENTS64 = {"x86_64": 217, "aarch64": 61}[platform.machine()]


def rewound_listings(path: str, passes: int) -> int:
    """List ``path`` ``passes`` times through one handle, rewinding in between."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(4096)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    total = 0
    try:
        for _ in range(passes):
            os.lseek(fd, 0, os.SEEK_SET)
            while (n := libc.syscall(SYS_GETDENTS64, fd, buf, len(buf))) > 0:
                total += n
            assert n == 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(fd)
    return total


def test_rewinddir_passes_do_not_grow_the_daemon(small: Mount) -> None:
    for batch in range(6):
        small.write("modules/load", "".join(f"m{batch}_{i}\n" for i in range(500)))
    rewound_listings(str(small / "modules"), 20)  # warm up
    before = vm_rss_kib(small.proc.pid)
    rewound_listings(str(small / "modules"), 120)
    grown = vm_rss_kib(small.proc.pid) - before
    assert grown < 12 * 1024, f"daemon grew by {grown} KiB over 120 passes"
