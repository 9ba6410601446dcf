"""The daemon's life: signals, external unmount, mount.sh, dead mounts."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tpfs.tools.mounting import fuse_unmount, is_mounted

from conftest import ROOT, start_daemon


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_unmounts_and_exits_zero(small, signum: int) -> None:
    fd = os.open(small / "available_events", os.O_RDONLY)
    os.read(fd, 10)  # an open, half-read handle must not hold the exit up
    small.proc.send_signal(signum)
    assert small.proc.wait(5) == 0
    assert not is_mounted(small.path)  # detached lazily, the open file notwithstanding
    with pytest.raises(OSError) as exc:
        os.read(fd, 10)
    assert exc.value.errno == errno.ENOTCONN
    with contextlib.suppress(OSError):
        os.close(fd)
    assert "unmounted" in small.log_text()


def test_external_umount_exits_zero(small) -> None:
    subprocess.run(["fusermount3", "-u", str(small.path)], check=True)
    assert small.proc.wait(5) == 0
    assert not is_mounted(small.path)


def test_python_dash_m_and_tpfs_command_agree(small) -> None:
    out = subprocess.run([str(Path(sys.executable).parent / "tpfs"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--legacy-iterator" in out and "--catalog" in out and "--pidfile" in out


def test_detached_daemon_returns_once_mounted(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run([sys.executable, "-m", "tpfs", str(mnt), "--log",
                          str(tmp_path / "log")], cwd=ROOT, timeout=30)
    try:
        assert res.returncode == 0
        assert is_mounted(mnt) and (mnt / "available_events").read_text()
    finally:
        fuse_unmount(mnt)
    deadline = time.monotonic() + 5
    while "unmounted" not in (tmp_path / "log").read_text():
        assert time.monotonic() < deadline, (tmp_path / "log").read_text()
        time.sleep(0.05)


def mount_sh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "mount.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def daemons_serving(mnt: Path) -> list[int]:
    """The pids of every tpfs daemon whose command line names ``mnt``."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().split(b"\0")
            if os.fsencode(mnt) in args and any(b"tpfs" in arg for arg in args):
                pids.append(int(cmdline.parent.name))
    return pids


def wait_gone(pid: int, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def daemon_pid(res: subprocess.CompletedProcess[str]) -> int:
    return int(res.stdout.split("\npid ")[1].split()[0])


@pytest.fixture
def sh_env(tmp_path: Path, request: pytest.FixtureRequest):
    """mount.sh's environment and a mountpoint (named by the test's parameter, if any)."""
    env = dict(os.environ, TPFS_RUN=str(tmp_path / "run"), TPFS_VENV=sys.prefix)
    mnt = tmp_path / getattr(request, "param", "mnt")
    yield env, mnt
    for _ in range(5):  # mounts may be stacked
        if not is_mounted(mnt):
            break
        fuse_unmount(mnt)
    for pid in daemons_serving(mnt):
        if not wait_gone(pid, 2):
            os.kill(pid, signal.SIGKILL)
    assert not is_mounted(mnt)


def test_mount_sh_mounts_refuses_twice_and_unmounts(sh_env) -> None:
    env, mnt = sh_env
    res = mount_sh(str(mnt), "--seed", "3", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"tpfs mounted at {mnt}")
    pid = daemon_pid(res)
    assert "initcall:initcall_finish" in (mnt / "available_events").read_text()
    again = mount_sh(str(mnt), env=env)
    assert again.returncode != 0 and "already mounted" in again.stderr
    res = mount_sh("-u", str(mnt), env=env)
    assert res.returncode == 0, res.stderr
    assert not is_mounted(mnt)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_killed_daemon_leaves_enotconn_and_mount_sh_recovers(sh_env) -> None:
    env, mnt = sh_env
    res = mount_sh(str(mnt), env=env)
    assert res.returncode == 0, res.stderr
    pid = daemon_pid(res)
    fd = os.open(mnt / "available_events", os.O_RDONLY)
    try:
        assert os.read(fd, 100)
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        with pytest.raises(OSError) as exc:
            os.read(fd, 100)
        assert exc.value.errno == errno.ENOTCONN
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    with pytest.raises(OSError) as exc:
        os.stat(mnt)
    assert exc.value.errno == errno.ENOTCONN
    refused = mount_sh(str(mnt), env=env)
    assert refused.returncode != 0 and "dead mount" in refused.stderr
    assert mount_sh("-u", str(mnt), env=env).returncode == 0
    assert not is_mounted(mnt)
    res = mount_sh(str(mnt), env=env)
    assert res.returncode == 0, res.stderr
    assert (mnt / "available_events").read_text()
    assert mount_sh("-u", str(mnt), env=env).returncode == 0


def test_mount_sh_unmount_with_an_open_file_is_lazy_and_prompt(sh_env) -> None:
    env, mnt = sh_env
    res = mount_sh(str(mnt), env=env)
    assert res.returncode == 0, res.stderr
    pid = daemon_pid(res)
    whole = (mnt / "available_events").read_bytes()
    fd = os.open(mnt / "available_events", os.O_RDONLY)
    try:
        first = os.read(fd, 100)
        t0 = time.monotonic()
        res = mount_sh("-u", str(mnt), env=env)
        assert res.returncode == 0, res.stderr
        assert time.monotonic() - t0 < 5
        assert not is_mounted(mnt)
        rest = b""
        while chunk := os.read(fd, 4096):  # the open file keeps reading, to its end
            rest += chunk
        assert first + rest == whole
    finally:
        os.close(fd)
    assert wait_gone(pid)
    assert not list(Path(env["TPFS_RUN"]).glob("*.pid"))
    assert "unmounted" in next(Path(env["TPFS_RUN"]).glob("*.log")).read_text()


def test_mount_sh_unmount_signals_no_stranger_named_by_a_stale_pidfile(sh_env) -> None:
    env, mnt = sh_env
    res = mount_sh(str(mnt), env=env)
    assert res.returncode == 0, res.stderr
    os.kill(daemon_pid(res), signal.SIGKILL)  # leaves its pidfile behind
    (pidfile,) = Path(env["TPFS_RUN"]).glob("*.pid")
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        pidfile.write_text(f"{stranger.pid}\n")  # as if the pid had been reused
        res = mount_sh("-u", str(mnt), env=env)
        assert res.returncode == 0, res.stderr
        assert not is_mounted(mnt)
        assert stranger.poll() is None
        assert not pidfile.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_concurrent_mount_sh_mounts_once(sh_env) -> None:
    env, mnt = sh_env
    procs = [subprocess.Popen([str(ROOT / "mount.sh"), str(mnt)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert sorted(rc == 0 for _, _, rc in results) == [False, True], results
    ((_, refusal, _),) = [r for r in results if r[2] != 0]
    assert "already mounted" in refusal or "another mount.sh" in refusal, refusal
    with open("/proc/mounts") as mounts:
        assert sum(line.split()[1] == str(mnt) for line in mounts) == 1
    assert len(daemons_serving(mnt)) == 1
    assert mount_sh("-u", str(mnt), env=env).returncode == 0


@pytest.mark.parametrize("sh_env", ["a b\tc\nd\\e"], indirect=True, ids=["escaped"])
def test_mount_sh_and_is_mounted_take_a_mountpoint_that_proc_mounts_escapes(sh_env) -> None:
    env, mnt = sh_env
    res = mount_sh(str(mnt), env=env)
    assert res.returncode == 0, res.stderr
    pid = daemon_pid(res)
    assert is_mounted(mnt)
    assert "initcall:initcall_finish" in (mnt / "available_events").read_text()
    res = mount_sh("-u", str(mnt), env=env)
    assert res.returncode == 0, res.stderr
    assert not is_mounted(mnt)
    assert wait_gone(pid)


def test_daemon_writes_its_pidfile_once_mounted_and_removes_it(mount_factory,
                                                              tmp_path: Path) -> None:
    pidfile = tmp_path / "tpfs.pid"
    mount = mount_factory("--pidfile", str(pidfile))
    assert pidfile.read_text() == f"{mount.proc.pid}\n"
    mount.proc.send_signal(signal.SIGTERM)
    assert mount.proc.wait(5) == 0
    assert not pidfile.exists()
    again = mount_factory("--pidfile", str(pidfile), name="again")
    pidfile.write_text("1\n")  # another daemon's now: not ours to remove
    subprocess.run(["fusermount3", "-u", str(again.path)], check=True)
    assert again.proc.wait(5) == 0
    assert pidfile.read_text() == "1\n"


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGPIPE])
def test_hangup_and_broken_pipe_do_not_end_the_daemon(small, signum: int) -> None:
    small.proc.send_signal(signum)
    time.sleep(0.2)
    assert small.proc.poll() is None
    assert small.read("available_events")
    assert signum == signal.SIGPIPE or "SIGHUP" in small.log_text()


ENDING = [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
          signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGPWR, signal.SIGRTMIN + 3]


@pytest.mark.parametrize("signals", [[s] for s in ENDING] + [ENDING],
                         ids=[signal.strsignal(s) or str(s) for s in ENDING] + ["mixed"])
def test_a_storm_of_ending_signals_unmounts_and_exits_zero(mount_factory, small_catalog,
                                                           tmp_path: Path, signals) -> None:
    pidfile = tmp_path / "tpfs.pid"
    mount = mount_factory("--catalog", str(small_catalog), "--pidfile", str(pidfile))
    deadline = time.monotonic() + 10
    sent = 0
    while mount.proc.poll() is None and time.monotonic() < deadline:
        mount.proc.send_signal(signals[sent % len(signals)])  # until it has exited
        sent += 1
        time.sleep(0.001)
    assert mount.proc.wait(1) == 0
    assert sent > 1
    assert not is_mounted(mount.path)
    assert not pidfile.exists()
    assert "unmounted" in mount.log_text()


def test_signal_after_a_lazy_unmount_spares_the_next_mount(small, small_catalog,
                                                           tmp_path: Path) -> None:
    fd = os.open(small / "available_events", os.O_RDONLY)
    try:
        assert os.read(fd, 100)
        subprocess.run(["fusermount3", "-u", "-z", str(small.path)], check=True)
        successor = start_daemon(small.path, tmp_path / "successor.log",
                                 "--catalog", str(small_catalog))
        try:
            small.proc.send_signal(signal.SIGTERM)
            assert small.proc.wait(5) == 0
            with pytest.raises(OSError) as exc:
                os.read(fd, 100)
            assert exc.value.errno == errno.ENOTCONN
            assert is_mounted(successor.path)
            assert successor.read("available_events")
        finally:
            successor.stop()
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
