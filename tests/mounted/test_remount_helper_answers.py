"""``mount -o remount`` of a tpfs mount in every form ``mount`` takes, inside
``exec-as-tracefs``: by its mount point alone (``mount.fuse.tpfs``), with
``uid=`` and ``mode=`` too, while a tracefs mounted there meanwhile is still the
kernel's (the helper passes on what is not a tpfs remount)."""

from __future__ import annotations

import subprocess
import sys

from tpfs.tools.mounting import Mount

SCRIPT = r"""
T=/sys/kernel/tracing
show() { stat -c '%a %u %g' "$T" "$T/events" "$T/tracing_on" | tr '\n' ' '; echo; }
show
mount -o remount,gid=7 "$T"; echo "rc: $?"; show
mount -o remount,uid=5,mode=0710 /sys/kernel/debug/tracing; echo "rc: $?"; show
mount -o remount,mode=0x1 "$T"; echo "rc: $?"; show
mount -o remount,ro "$T"; echo "rc ro: $?"
echo 0 > "$T/tracing_on" 2>/dev/null; echo "write on ro: $?"
mount -o remount,rw "$T"; echo "rc rw: $?"
k=/sys/kernel/debug/kernel_tracefs; mkdir "$k"
mount -t tracefs nodev "$k"; echo "rc kernel: $? $(stat -f -c %T "$k")"
"""
EXPECTED = ("750 0 0 755 0 0 640 0 0 \n"
            "rc: 0\n750 0 7 755 0 7 640 0 7 \n"
            "rc: 0\n710 5 7 755 5 7 640 5 7 \n"
            "rc: 32\n710 5 7 755 5 7 640 5 7 \n"
            "rc ro: 0\nwrite on ro: 1\nrc rw: 0\n"
            "rc kernel: 0 tracefs\n")


def test_remount_forms_through_exec_as_tracefs(tpfs: Mount) -> None:
    done = subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(tpfs.path),
                           "--", "bash", "-c", SCRIPT],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout == EXPECTED, done.stderr
    assert "bad option; tracefs: Bad value for 'mode'" in done.stderr
    tpfs.write("tracing_on", "1")  # the mount outside is writable and served as before
