"""``mount -o remount`` with tracefs's options (``uid``, ``gid``, ``mode``), on tpfs
through ``exec-as-tracefs`` and on the kernel's tracefs.

The script is the kernel's ``mount_options`` selftest's way: remount with the
options /proc/mounts shows plus ``gid=N``, check the group of the root, of
``events`` and of an event's file, and of a new instance's, then remount back.
A word tracefs does not take fails the way the kernel's does (``mount`` exits
32) and changes nothing. On the kernel the test starts from group 0 and puts
back the group it found, whatever happens (its superblock is the machine's
one tracefs).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from compat.kernel import shell

OTHER_GID = 4242
FILES = ". events events/sched events/sched/sched_switch events/sched/sched_switch/enable"
SCRIPT = f"""
set -u
cd "$T"
groups() {{ for f in {FILES} "$@"; do stat -c %g "$f"; done | sort -u | tr '\\n' ' '; }}
remount() {{ mount -t tracefs -o "remount,$1" nodev "$T"; }}
orig=$(stat -c %g .)
opts=$(awk -v t="$T" '$2 == t {{ o = $4 }} END {{ print o }}' /proc/mounts)
echo "start: $(groups)"
remount "$opts,gid={OTHER_GID}"; echo "rc: $?"
echo "changed: $(groups)"
inst=instances/tpfs_remount
mkdir "$inst"
echo "instance: $(groups $inst $inst/events $inst/events/sched/enable)"
rmdir "$inst"
remount "bogus=1"; echo "rc bogus: $?"
remount "gid=x"; echo "rc bad value: $?"
echo "refused: $(groups)"
remount "$opts,gid=$orig"; echo "rc back: $?"
echo "back: $(groups)"
"""
EXPECTED = (f"start: 0 \nrc: 0\nchanged: {OTHER_GID} \ninstance: {OTHER_GID} \n"
            f"rc bogus: 32\nrc bad value: 32\nrefused: {OTHER_GID} \nrc back: 0\nback: 0 \n")


def run_script(tracefs: Path) -> subprocess.CompletedProcess[str]:
    if (tracefs / "README").stat().st_dev == Path(tracefs / "..").stat().st_dev:
        pytest.fail(f"{tracefs} is not a mount")
    if "fuse" in subprocess.run(["stat", "-f", "-c", "%T", str(tracefs)], capture_output=True,
                                text=True).stdout:
        return subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tracefs),
                               "--", "env", "T=/sys/kernel/tracing", "bash", "-c", SCRIPT],
                              capture_output=True, text=True, timeout=120)
    found = tracefs.stat().st_gid  # whatever an earlier run or the machine left
    remount = f"mount -t tracefs -o remount,gid={{}} nodev {tracefs}"
    try:
        assert shell(remount.format(0), tracefs.parent).returncode == 0
        return subprocess.run(["env", f"T={tracefs}", "bash", "-c", SCRIPT],
                              capture_output=True, text=True, timeout=120)
    finally:
        shell(remount.format(found), tracefs.parent)


def test_remount_sets_the_group_of_every_file(tracefs: Path) -> None:
    done = run_script(tracefs)
    assert done.stdout == EXPECTED, done.stderr
