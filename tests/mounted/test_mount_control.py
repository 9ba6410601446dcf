"""Control files through a real mount: syntax, errno, all-or-nothing batches."""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pytest


def fails(mount, name: str, text: str | bytes, code: int) -> None:
    """Writing ``text`` fails with ``code`` and changes nothing observable."""
    before = snapshot(mount)
    with pytest.raises(OSError) as exc:
        mount.write(name, text)
    assert exc.value.errno == code, (name, text, exc.value)
    assert snapshot(mount) == before


def snapshot(mount) -> tuple:
    return (
        mount.read("available_events"),
        mount.read("tracepoints"),
        sorted(os.listdir(mount / "modules")),
        {n: mount.read(f"probes/{n}") for n in sorted(os.listdir(mount / "probes"))
         if ":" in n},
        {n: mount.read(f"modules/{n}") for n in sorted(os.listdir(mount / "modules"))
         if n not in ("load", "unload")},
    )


def test_tree_layout_and_modes(small) -> None:
    root = {e.name: e for e in os.scandir(small.path)}
    assert {"available_events", "modules", "probes", "tracepoints", "events"} <= set(root)
    assert root["modules"].is_dir() and root["probes"].is_dir()
    modes = {f"{d}/{e.name}": stat.S_IMODE(e.stat().st_mode)
             for d in ("modules", "probes") for e in os.scandir(small / d)}
    assert modes == {f"modules/{n}": 0o200 for n in ("load", "unload")} | {
        f"probes/{n}": 0o200 for n in
        ("register", "unregister", "register_noupdate", "unregister_noupdate", "update")}
    assert [e.name for e in os.scandir(small / "probes")][:5] == [
        "register", "unregister", "register_noupdate", "unregister_noupdate", "update"]


def test_load_lists_module_and_details(small) -> None:
    small.write("modules/load", "\nalpha a:one a:two\n\nbeta taint=OE b:x\ngamma\n")
    names = os.listdir(small / "modules")
    assert names[:2] == ["load", "unload"]
    details = {n: small.read(f"modules/{n}").splitlines() for n in names[2:]}
    addrs = [int(details[n][0].split()[1], 16) for n in names[2:]]
    assert addrs == sorted(addrs) and set(names[2:]) == {"alpha", "beta", "gamma"}
    assert details["alpha"][1:] == ["taints -", "registered yes",
                                    "tracepoint a:one", "tracepoint a:two"]
    assert details["beta"][1:] == ["taints OE", "registered no", "tracepoint b:x"]
    assert details["gamma"][1:] == ["taints -", "registered yes"]
    assert stat.S_IMODE(os.stat(small / "modules/alpha").st_mode) == 0o440
    events = small.read("available_events").splitlines()
    assert events[-2:] == ["a:one", "a:two"] and "b:x" not in events


@pytest.mark.parametrize("line", [
    "bad-name a:b", "load", "unload", "x" * 56, "m a:b a:b", "m taint=Z", "m taint=",
    "m notanevent", "m a:b:c", "m 1a:b", "m a:", "m :b", "m a:b taint=O",
])
def test_malformed_load_is_einval(small, line: str) -> None:
    fails(small, "modules/load", line + "\n", errno.EINVAL)


def test_load_errors_and_atomic_batches(small) -> None:
    small.write("modules/load", "m a:b\n")
    fails(small, "modules/load", "m c:d\n", errno.EEXIST)
    fails(small, "modules/load", "n c:d\nm e:f\n", errno.EEXIST)  # n must not load
    fails(small, "modules/load", "n c:d\nn e:f\n", errno.EEXIST)
    fails(small, "modules/load", "n c:d\nbad! x:y\n", errno.EINVAL)
    fails(small, "modules/load", b"n \xff:x\n", errno.EINVAL)
    fails(small, "modules/load", b"n a:\x00b\n", errno.EINVAL)
    fails(small, "modules/load", "n " + "a:b " * 20000, errno.EINVAL)  # over 64 KiB
    small.write("modules/load", "x" * 55 + "\n")
    assert "x" * 55 in os.listdir(small / "modules")


def test_unload_and_rm(small) -> None:
    small.write("modules/load", "m a:b\nn c:d\n")
    fails(small, "modules/unload", "zz\n", errno.ENOENT)
    fails(small, "modules/unload", "m\nzz\n", errno.ENOENT)  # m stays
    fails(small, "modules/unload", "m extra\n", errno.EINVAL)
    small.write("modules/unload", "m\n")
    assert "m" not in os.listdir(small / "modules")
    assert "a:b" not in small.read("available_events")
    os.unlink(small / "modules/n")
    assert os.listdir(small / "modules") == ["load", "unload"]
    with pytest.raises(FileNotFoundError):
        os.unlink(small / "modules/n")
    with pytest.raises(FileNotFoundError):
        small.read("modules/n")


def test_register_unregister(small) -> None:
    small.write("probes/register", "later:ev p\nlater:ev p 0x10\nlater:ev q 5\n")
    assert small.read("probes/later:ev") == "p 0x0 0\np 0x10 0\nq 0x5 0\n"
    fails(small, "probes/register", "later:ev p 16\n", errno.EEXIST)
    fails(small, "probes/register", "x:y r\nx:y r\n", errno.EEXIST)
    small.write("modules/load", "later later:ev\n")
    assert small.read("tracepoints").splitlines()[-1] == "later:ev later 1 3"
    fails(small, "probes/unregister", "later:ev p 7\n", errno.ENOENT)
    fails(small, "probes/unregister", "nobody:here p\n", errno.ENOENT)
    fails(small, "probes/unregister", "later:ev q 5\nlater:ev q 5\n", errno.ENOENT)
    small.write("probes/unregister", "later:ev p 0x10\n")
    assert small.read("probes/later:ev") == "p 0x0 0\nq 0x5 0\n"
    os.unlink(small / "probes/later:ev")
    assert [n for n in os.listdir(small / "probes") if ":" in n] == []
    assert small.read("tracepoints").splitlines()[-1] == "later:ev later 0 0"
    with pytest.raises(FileNotFoundError):
        os.unlink(small / "probes/later:ev")


@pytest.mark.parametrize("line", [
    "a:b", "a:b p 1 2", "ab p", "a:b 9p", "a:b p -1", "a:b p 0x", "a:b p 1.5",
    "a:b p 0x1ffffffffffffffff", "a:b p 18446744073709551616",
])
def test_malformed_probe_lines_are_einval(small, line: str) -> None:
    fails(small, "probes/register", line + "\n", errno.EINVAL)
    small.write("probes/register", "a:b p\n")
    fails(small, "probes/unregister", line + "\n", errno.EINVAL)


def test_noupdate_batch_waits_for_update(small) -> None:
    small.write("modules/load", "m m:a\n")
    small.write("probes/register_noupdate", "m:a p\n")
    assert small.read("probes/m:a") == "p 0x0 0\n"
    assert small.read("tracepoints").splitlines()[-1] == "m:a m 0 0"
    small.write("probes/update", "1\n")
    assert small.read("tracepoints").splitlines()[-1] == "m:a m 1 1"
    small.write("probes/unregister_noupdate", "m:a p\n")
    assert small.read("tracepoints").splitlines()[-1] == "m:a m 1 1"
    small.write("probes/update", "\n")
    assert small.read("tracepoints").splitlines()[-1] == "m:a m 0 0"


def test_names_that_cannot_be_made_or_removed(small) -> None:
    with pytest.raises(PermissionError) as exc:
        open(small / "modules/newfile", "w").close()
    assert exc.value.errno == errno.EACCES
    with pytest.raises(OSError) as exc:
        os.mkdir(small / "probes/dir")
    assert exc.value.errno == errno.EPERM
    for name in ("modules/load", "probes/update", "available_events", "tracepoints"):
        with pytest.raises(OSError) as exc:
            os.unlink(small / name)
        assert exc.value.errno == errno.EPERM, name
    with pytest.raises(OSError) as exc:
        os.rmdir(small / "modules")
    assert exc.value.errno == errno.EPERM


def test_offsets_are_ignored_and_truncate_is_harmless(small) -> None:
    fd = os.open(small / "modules/load", os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"a a:x\n")
        os.pwrite(fd, b"b b:x\n", 12345)
    finally:
        os.close(fd)
    os.truncate(small / "modules/load", 0)
    assert sorted(os.listdir(small / "modules")) == ["a", "b", "load", "unload"]


def test_unexpected_errors_become_eio_and_the_daemon_serves_on(mount_factory,
                                                               small_catalog) -> None:
    program = [sys.executable, str(Path(__file__).with_name("faulty_tpfs.py"))]
    mount = mount_factory("--catalog", str(small_catalog), program=program)
    with pytest.raises(OSError) as exc:
        os.stat(mount / ".fault")
    assert exc.value.errno == errno.EIO
    mount.write("modules/load", "m m:a\n")
    assert "m:a" in mount.read("available_events")
    assert "fault injected for a test" in mount.log_text()
    assert mount.proc.poll() is None
