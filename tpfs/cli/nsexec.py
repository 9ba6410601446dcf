"""``tpfs exec-as-tracefs MNT -- CMD``: run a tracing tool with the mount as its tracefs.

trace-cmd, perf and libtracefs find the tracing directory as the first
``tracefs`` line of /proc/mounts; bcc and older tools use
/sys/kernel/debug/tracing. In a private mount namespace (root only) this
unmounts every other tracefs, mounts the kernel's at /sys/kernel/tracing
so that /proc/mounts names it, and binds the tpfs mount on top of it and
of /sys/kernel/debug/tracing. Every other tpfs mount is detached there: a
copy of it in the namespace would keep its daemon serving after it is
unmounted outside, for as long as the command runs. trace-cmd also writes
/proc/sys/kernel/ftrace_enabled, which a container may refuse: a writable
copy is bound over it. Nothing outside the namespace changes.

``per_cpu/cpuN/trace_pipe_raw`` is covered there by the daemon's FIFO for
that CPU (``tpfs.fuse.rawfifo``), where the daemon has them: trace-cmd's
readers ``splice()`` it, which this kernel does not do from a FUSE file.
"""

from __future__ import annotations

import os
import shutil
import sys

from ..fuse.rawfifo import fifo_dir, fifo_name

SETUP = r"""
set -e
mnt=$1; fifos=$2; shift 2
for m in $(awk '$3 == "tracefs" || $3 == "debugfs" { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m"
done
awk '$3 == "fuse.tpfs" { print $2 }' /proc/mounts | while read -r m; do
    m=$(printf '%b' "$m")
    [ "$m" = "$mnt" ] || umount -l "$m" 2>/dev/null || true
done
mount -t tracefs nodev /sys/kernel/tracing
$RAW_FIFO_BINDS
mount --rbind "$mnt" /sys/kernel/tracing
mount -t tmpfs -o size=64k,mode=0755 none /sys/kernel/debug
mkdir /sys/kernel/debug/tracing
mount --rbind "$mnt" /sys/kernel/debug/tracing
if [ -e /proc/sys/kernel/ftrace_enabled ]; then
    cat /proc/sys/kernel/ftrace_enabled > /sys/kernel/debug/.ftrace_enabled
    mount --bind /sys/kernel/debug/.ftrace_enabled /proc/sys/kernel/ftrace_enabled
fi
exec "$@"
"""

#: Each CPU's FIFO ($fifos/cpuN) over its trace_pipe_raw in the namespace's copy
#: of the mount, which the recursive binds then carry to both paths: once a
#: FIFO is bound, a lookup of its file in the namespace fills it (rawfifo), so
#: none is looked up again here.
RAW_FIFO_BINDS = r"""
if [ -n "$fifos" ]; then
    for fifo in "$fifos"/cpu*; do
        raw=$mnt/per_cpu/${fifo##*/}/trace_pipe_raw
        if [ -e "$raw" ]; then mount --bind "$fifo" "$raw"; fi
    done
fi
"""
SETUP = SETUP.replace("$RAW_FIFO_BINDS", RAW_FIFO_BINDS)

USAGE = "usage: tpfs exec-as-tracefs MOUNTPOINT -- COMMAND [ARG...]"


def main(argv: list[str]) -> int:
    if "--" in argv:
        split = argv.index("--")
        head, cmd = argv[:split], argv[split + 1:]
    else:
        head, cmd = argv[:1], argv[1:]
    if len(head) != 1 or not cmd:
        print(USAGE, file=sys.stderr)
        return 2
    mnt = os.path.realpath(head[0])
    if not os.path.ismount(mnt):
        print(f"tpfs: {mnt} is not a mount point", file=sys.stderr)
        return 1
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        print("tpfs: exec-as-tracefs needs root and unshare(1)", file=sys.stderr)
        return 1
    os.execv(unshare, [unshare, "--mount", "--propagation", "private",
                       "sh", "-c", SETUP, "tpfs-exec", mnt, raw_fifos(mnt), *cmd])


def raw_fifos(mnt: str) -> str:
    """The directory of the mount's FIFOs for splicing readers, or "" if it has none
    (a daemon that cannot make them, or an older one)."""
    directory = fifo_dir(os.stat(mnt).st_dev)
    try:
        owner = directory.stat().st_uid
    except OSError:
        return ""
    # only FIFOs of this user's (or root's) daemon: not ones someone else left there
    return str(directory) if owner in (0, os.geteuid()) and (
        directory / fifo_name(0)).exists() else ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
