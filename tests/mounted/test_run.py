"""``tpfs run -- CMD``: CMD sees a private mount as its tracefs, and its status comes back.

Each test runs the real command (``python -m tpfs run``) as root here; the
rootless case is tests/clients/test_rootless.py. The mount lives in a private
namespace, so the checks that nothing stays are made on what CMD reports of it
(its mountpoint, the daemon's pid) after ``tpfs run`` has returned.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tpfs.cli import preflight
from tpfs.tools.mounting import is_mounted

TIMEOUT = 60


@pytest.fixture(autouse=True)
def fuse_and_root() -> None:
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this machine")
    if os.geteuid() != 0:
        pytest.skip("the rootless case is tests/clients/test_rootless.py")


def tpfs_run(*args: str, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tpfs", "run", *args], capture_output=True,
                          text=True, timeout=TIMEOUT, env=env, cwd=cwd)


def kill_group(proc: subprocess.Popen) -> None:
    """If the test failed on the way: tpfs run and CMD (its process group) go too."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_command_sees_the_mount_and_its_status_comes_back(tmp_path: Path) -> None:
    res = tpfs_run("--cpus", "3", "--", "sh", "-c",
                   "awk '$3 ~ /tracefs|tpfs/ {print $2, $3}' /proc/mounts; "
                   "ls /sys/kernel/tracing/per_cpu; head -n 1 /sys/kernel/tracing/available_events;"
                   "cat /sys/kernel/debug/tracing/tracing_on; exit 7")
    assert res.returncode == 7, res.stderr
    lines = res.stdout.splitlines()
    # the first tracefs line (the one tools take) is where the mount sits
    first = next(line for line in lines if line.endswith(" tracefs"))
    assert first == "/sys/kernel/tracing tracefs"
    assert "/sys/kernel/tracing fuse.tpfs" in lines
    assert lines[-5:] == ["cpu0", "cpu1", "cpu2", "initcall:initcall_finish", "1"]


def test_nothing_stays_when_the_command_is_killed(tmp_path: Path) -> None:
    """CMD dies of SIGKILL: the status is 137, as a shell says, and the mount, its
    directory and its daemon are gone."""
    res = tpfs_run("--", "sh", "-c",
                   f'echo "$TPFS_MOUNT $TPFS_DAEMON_PID" > {tmp_path}/seen; kill -KILL $$')
    assert res.returncode == 128 + signal.SIGKILL, res.stderr
    mnt, pid = (tmp_path / "seen").read_text().split()
    assert mnt.startswith("/") and not is_mounted(Path(mnt))
    assert not os.path.exists(mnt)
    assert not os.path.exists(f"/proc/{pid}")
    assert "Traceback" not in res.stderr


def test_a_signal_sent_to_tpfs_run_reaches_the_command_while_the_mount_serves(
        tmp_path: Path) -> None:
    """kill -INT of ``tpfs run`` (a CI runner stopping a job) is passed to CMD, which
    still reads the mount while it handles it; its status is then the exit status."""
    script = (f"trap 'cat /sys/kernel/tracing/tracing_on > {tmp_path}/on; exit 5' INT; "
              f"touch {tmp_path}/ready; while :; do sleep 0.05; done")
    proc = subprocess.Popen([sys.executable, "-m", "tpfs", "run", "--", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (tmp_path / "ready").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        kill_group(proc)
    assert proc.returncode == 5, err
    assert (tmp_path / "on").read_text() == "1\n"


def test_ctrl_c_at_a_terminal_reaches_the_command_once(tmp_path: Path) -> None:
    """Ctrl-C at the terminal signals the whole foreground group: CMD has it from the
    terminal and handles it, and the daemon (a session of its own) keeps serving while
    CMD winds up. (Two SIGINTs at once would merge in CMD, so this does not show that
    tpfs run leaves a terminal's SIGINT alone; the kill -INT test shows the other way.)"""
    script = (f"n=0; trap 'n=$((n+1)); cat /sys/kernel/tracing/tracing_on >> {tmp_path}/on' "
              f"INT; touch {tmp_path}/ready; i=0; "
              f"while [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); "
              f"[ $n -gt 0 ] && [ $i -gt 30 ] && break; done; echo $n > {tmp_path}/count")
    master, slave = os.openpty()

    def terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "tpfs", "run", "--", "sh", "-c", script],
                            stdin=slave, stdout=slave, stderr=slave, preexec_fn=terminal)
    os.close(slave)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (tmp_path / "ready").exists():
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.write(master, b"\x03")
        assert proc.wait(TIMEOUT) == 0
    finally:
        kill_group(proc)
        os.close(master)
    assert (tmp_path / "count").read_text() == "1\n"
    assert (tmp_path / "on").read_text() == "1\n"


def test_a_daemon_that_dies_leaves_the_status_and_says_why(tmp_path: Path) -> None:
    res = tpfs_run("--", "sh", "-c", 'kill -KILL "$TPFS_DAEMON_PID"; sleep 0.2; exit 3')
    assert res.returncode == 3
    assert f"the daemon failed (status {-signal.SIGKILL})" in res.stderr
    assert "INFO tpfs.fuse.daemon: mounted" in res.stderr  # the log's tail


def test_errors_a_ci_log_can_act_on(tmp_path: Path) -> None:
    res = tpfs_run("--", "no-such-tool-here", "list")
    assert res.returncode == preflight.EXIT_NOT_FOUND
    assert res.stderr == "tpfs: no-such-tool-here: command not found: install it or give " \
                         "its path\n"
    res = tpfs_run("--", str(tmp_path))
    assert res.returncode == preflight.EXIT_CANNOT_EXEC
    for args in (["true"], ["--"], ["--cpus", "0", "--", "true"]):
        res = tpfs_run(*args)
        assert res.returncode == preflight.EXIT_USAGE, args
    res = tpfs_run("--help")
    assert res.returncode == 0 and res.stdout.startswith("usage: tpfs run ")
    # libfuse3 missing: pyfuse3 cannot be imported
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "pyfuse3.py").write_text("raise ImportError('libfuse3.so.3: cannot open')\n")
    res = tpfs_run("--", "true", env={**os.environ, "PYTHONPATH": str(fake)})
    assert res.returncode == preflight.EXIT_PACKAGE
    assert res.stderr == ("tpfs: missing system packages (pyfuse3 (libfuse3.so.3)): as root "
                          "run: apt-get install -y fuse3\n")


def test_root_of_a_user_namespace_is_rootless(tmp_path: Path) -> None:
    """Root in a user namespace other than the machine's (a rootless container) can
    neither mount tracefs nor unmount what it inherited: tpfs run goes the rootless
    way there."""
    res = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-m", "tpfs",
                          "run", "--", "sh", "-c",
                          "echo 'un un:ev' > /sys/kernel/tracing/modules/load; "
                          "grep -x un:ev /sys/kernel/debug/tracing/available_events"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert (res.returncode, res.stdout) == (0, "un:ev\n"), res.stderr
