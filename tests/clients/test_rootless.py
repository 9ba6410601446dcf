"""``tpfs run`` as a user who is not root, from a copy of the tree that user owns,
set up by that user with Debian's default PATH (no /sbin), with its own venv.

The user is ``nobody``. Each command runs in a mount namespace that root
makes first, so that the machine itself is not touched: there a /dev/fuse
node open to all is bound over /dev/fuse (Debian's udev makes it 0666; a
container may leave it 0600), and the tracing mounts are made one of the
two ways a machine has them: none at all, or the kernel's tracefs at
/sys/kernel/tracing (systemd mounts it). Then, as the user: trace-cmd,
perf and bpftrace list the mount's events (a module's included, so that
they are not the kernel's), trace-cmd records and reports fired events, and
a libtracefs program reads them back.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_libtracefs import SOURCE, build

ROOT = Path(__file__).resolve().parents[2]
UID = 65534  # nobody, nogroup
#: Debian's default PATH for a user: no /sbin, no /usr/sbin.
USER_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
TOOLS = ("setpriv", "unshare", "trace-cmd", "perf", "bpftrace", "taskset")
#: As root, in the new mount namespace: /dev/fuse open to all; the tracing mounts as
#: asked ($2: none or kernel); then the script ($3) as the user, in its home.
AS_USER = r"""
set -e
base=$1 tracing=$2 script=$3
mount --bind "$base/fuse" /dev/fuse
for m in $(awk '$3 == "tracefs" || $3 == "debugfs" { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m"
done
[ "$tracing" = none ] || mount -t tracefs nodev /sys/kernel/tracing
cd "$base/home"
exec setpriv --reuid=65534 --regid=65534 --clear-groups \
    env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games \
    HOME="$base/home" TPFS="$base/tpfs" bash -c "$script"
"""
SWITCH = ("sched:sched_switch @cpu={cpu} @pid=101 @comm=alpha prev_comm=alpha prev_pid=101 "
          "prev_prio=120 prev_state=1 next_comm=beta next_pid=202 next_prio=100")


def as_user(base: Path, tracing: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           AS_USER, "as-user", str(base), tracing, script],
                          capture_output=True, text=True, timeout=600)


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, f"{res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Iterator[Path]:
    """A directory holding the user's copy of the tree (set up by the user), its home,
    a /dev/fuse node open to all, and the libtracefs reader."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not Path("/usr/bin/python3").exists() or not os.path.exists("/dev/fuse"):
        pytest.skip("needs the system's python3 and /dev/fuse")
    reader = build(tmp_path_factory, SOURCE)
    path = Path(tempfile.mkdtemp(prefix="tpfs-rootless-"))
    try:
        path.chmod(0o755)
        shutil.copytree(ROOT, path / "tpfs", ignore=shutil.ignore_patterns(
            ".venv", ".git", "__pycache__", "*.egg-info", ".*_cache", "build"))
        (path / "home").mkdir()
        shutil.copy(reader, path / "home" / "reader")
        fuse = os.stat("/dev/fuse").st_rdev
        os.mknod(path / "fuse", 0o666 | stat.S_IFCHR, fuse)
        os.chmod(path / "fuse", 0o666)
        for tree in (path / "tpfs", path / "home"):
            subprocess.run(["chown", "-R", f"{UID}:{UID}", str(tree)], check=True)
        # The user sets the tree up: "no root needed" once the system packages are there.
        ok(as_user(path, "none", 'cd "$TPFS" && . tools/setup-env.sh "" && tpfs --help >/dev/null'))
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def script(base: Path, name: str, text: str) -> None:
    """A shell script in the user's home."""
    path = base / "home" / name
    path.write_text(text)
    os.chown(path, UID, UID)


def tpfs_run(base: Path, tracing: str, text: str) -> str:
    """The shell script ``text`` under ``tpfs run`` as the user, once a module ``rl`` is
    loaded; its standard output."""
    script(base, "run.sh", "set -e\necho 'rl rl:ev1 rl:ev2' > /sys/kernel/tracing/modules/load\n"
           + text)
    return ok(as_user(base, tracing, "$TPFS/.venv/bin/tpfs run --seed 3 -- sh ./run.sh"))


@pytest.fixture(params=["none", "kernel"])
def tracing(request: pytest.FixtureRequest) -> str:
    """How the machine mounts tracing: nothing at all, or tracefs at /sys/kernel/tracing."""
    if request.param == "kernel" and "\ttracefs" not in Path("/proc/filesystems").read_text():
        pytest.skip("this kernel has no tracefs")
    return str(request.param)


def test_setup_finds_its_packages_without_sbin(base: Path) -> None:
    """What the fixture did, again, visibly: the check for libtraceevent1 runs
    ldconfig, which is in /sbin, off a user's PATH."""
    res = as_user(base, "none", 'cd "$TPFS" && . tools/setup-env.sh "" && echo set-up')
    assert res.stdout == "set-up\n", res.stderr
    assert "missing system packages" not in res.stderr


def test_tools_list_the_mounts_events(base: Path, tracing: str) -> None:
    out = tpfs_run(base, tracing, """
        id -u
        trace-cmd list -e > tc
        perf list tracepoint > pl
        bpftrace -l "tracepoint:*" > bt
        cat /sys/kernel/tracing/available_events > ae""")
    assert out == "0\n"  # root in its user namespace
    home = base / "home"
    events = (home / "ae").read_text().splitlines()
    assert {"rl:ev1", "rl:ev2"} <= set(events) and len(events) > 2000
    assert sorted((home / "tc").read_text().splitlines()) == sorted(events)
    perf = [line.split()[0] for line in (home / "pl").read_text().splitlines()
            if "[Tracepoint event]" in line]
    # perf lists the ftrace events that have an id too, as on the kernel
    assert sorted(e for e in perf if not e.startswith("ftrace:")) == sorted(events)
    bpftrace = (home / "bt").read_text().splitlines()
    assert sorted(bpftrace) == sorted(f"tracepoint:{e}" for e in events)


def test_trace_cmd_records_and_reports_fired_events(base: Path, tracing: str) -> None:
    # The command waits a second after firing: what is fired just before trace-cmd
    # stops its readers may miss their last read (through tpfs as root too; the
    # recording benchmark's matter), and this test is about being rootless.
    script(base, "fire.sh", "".join(f"echo '{SWITCH.format(cpu=cpu)}' > /sys/kernel/tracing/fire\n"
                                    for cpu in (0, 1)) + "sleep 1\n")
    tpfs_run(base, tracing, """
        trace-cmd record -o rec.dat -e sched:sched_switch -- taskset -c 0 sh ./fire.sh
        trace-cmd start -e rl:ev1
        echo 'rl:ev1 @cpu=0 @pid=55 @comm=late' > /sys/kernel/tracing/fire
        trace-cmd extract -o ext.dat""")
    home = base / "home"
    report = ok(as_user(base, tracing, "trace-cmd report -i rec.dat; trace-cmd report -i ext.dat"))
    switches = [line for line in report.splitlines() if "sched_switch:" in line]
    assert len(switches) == 2, report
    for line, cpu in zip(switches, (0, 1), strict=True):
        assert line.split()[:2] == ["alpha-101", f"[00{cpu}]"], line
        assert line.endswith("alpha:101 [120] S ==> beta:202 [100]"), line
    late = [line for line in report.splitlines() if " ev1:" in line]
    assert len(late) == 1 and late[0].split()[:2] == ["late-55", "[000]"], report
    assert (home / "rec.dat").stat().st_uid == UID


def test_a_libtracefs_program_reads_fired_events(base: Path, tracing: str) -> None:
    fire = SWITCH.format(cpu=0)
    out = tpfs_run(base, tracing, f'./reader -e sched:sched_switch -f "{fire}" -r iterate')
    lines = out.splitlines()
    assert lines[0].startswith("pid=") and lines[1] == "== iterate", out
    assert lines[2:] == ["cpu=0 sched:sched_switch common_pid=101 prev_comm=alpha "
                         "prev_pid=101 prev_prio=120 prev_state=1 next_comm=beta next_pid=202 "
                         "next_prio=100"], out


def test_exec_as_tracefs_on_the_users_own_mount(base: Path, tracing: str) -> None:
    """The user mounts (fusermount3), runs a tool through exec-as-tracefs, unmounts."""
    out = ok(as_user(base, tracing, """set -e
        mkdir -p mnt
        $TPFS/.venv/bin/tpfs mnt --seed 3
        echo 'xm xm:only' > mnt/modules/load
        $TPFS/.venv/bin/tpfs exec-as-tracefs mnt -- trace-cmd list -e > listed
        fusermount3 -u mnt
        grep -c . listed; grep -x xm:only listed"""))
    assert out.splitlines() == ["2306", "xm:only"]


def test_nothing_stays_when_the_command_is_killed(base: Path) -> None:
    out = ok(as_user(base, "none", """
        $TPFS/.venv/bin/tpfs run -- sh -c 'echo "$TPFS_MOUNT" > seen; kill -KILL $$'
        echo status=$?"""))
    assert out == "status=137\n"
    mnt = (base / "home/seen").read_text().strip()
    assert mnt.startswith("/") and not os.path.exists(mnt)


def test_errors_a_ci_log_can_act_on(base: Path) -> None:
    """A kernel that refuses user namespaces (here an unshare that fails as it
    would there), and a /dev/fuse the user cannot open: one line each, with a status
    of its own."""
    res = as_user(base, "none", """
        mkdir -p fake
        printf '#!/bin/sh\\necho "unshare: unshare failed: %s" >&2\\nexit 1\\n' \\
            "Operation not permitted" > fake/unshare
        chmod +x fake/unshare
        PATH=$PWD/fake:$PATH $TPFS/.venv/bin/tpfs run -- true; echo status=$?""")
    assert res.stdout == "status=123\n"
    assert res.stderr == ("tpfs: cannot make a user namespace (unshare: unshare failed: "
                          "Operation not permitted): run as root, or allow user namespaces "
                          "(docs/ci.md)\n")
    (base / "fuse").chmod(0o600)
    try:
        res = as_user(base, "none", "$TPFS/.venv/bin/tpfs run -- true; echo status=$?")
    finally:
        (base / "fuse").chmod(0o666)
    assert res.stdout == "status=122\n"
    assert res.stderr == ("tpfs: /dev/fuse (mode 0600) is not open to this user: as root run: "
                          "chmod 0666 /dev/fuse (Debian's udev rule does)\n")
