"""``tpfs exec-as-tracefs MNT -- CMD``: run a tracing tool with the mount as its tracefs.

trace-cmd, perf and libtracefs find the tracing directory as the first
``tracefs`` line of /proc/mounts; bcc and older tools use
/sys/kernel/debug/tracing. In a private mount namespace, as root, this
unmounts every other tracefs, mounts the kernel's at /sys/kernel/tracing
so that /proc/mounts names it, and binds the tpfs mount on top of it and
of /sys/kernel/debug/tracing. Every other tpfs mount is detached there: a
copy of it in the namespace would keep its daemon serving after it is
unmounted outside, for as long as the command runs. trace-cmd also writes
/proc/sys/kernel/ftrace_enabled, which a container may refuse: a writable
copy is bound over it. ``mount`` finds helpers for ``tracefs`` and
``fuse.tpfs`` there (an overlay on /sbin), so that ``mount -o remount,gid=N``
reaches the daemon (``remount.py``). Nothing outside the namespace changes.

``per_cpu/cpuN/trace_pipe_raw`` is covered there by the daemon's FIFO for
that CPU (``tpfs.fuse.rawfifo``), where the daemon has them, and so is each
instance's that exists when the namespace is set up: trace-cmd's readers
``splice()`` it, which this kernel does not do from a FUSE file.

Rootless (a user other than root), the namespace is a user namespace with
a mount namespace in it, where the user is root over what it mounts but
cannot unmount what it inherited nor mount tracefs: the mount is bound over
every tracefs mount it can reach and over /sys/kernel/tracing, and where no
tracefs is mounted at all mount(2) is answered for libtracefs and perf
(``pretend_mount``), which then use /sys/kernel/tracing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

from ..fuse.rawfifo import fifo_dir, fifo_name

SETUP = r"""
set -e
mnt=$1; python=$2; fifos=$3; shift 3
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
helpers=/sys/kernel/debug/.tpfs-helpers
mkdir "$helpers"
for helper in mount.tracefs mount.fuse.tpfs; do
    printf '#!/bin/sh\nexec %s -m tpfs.cli.remount "$0" "$@"\n' "$python" > "$helpers/$helper"
    chmod 755 "$helpers/$helper"
done
sbin=$(realpath /sbin)
mount -t overlay tpfs-helpers -o "lowerdir=$helpers:$sbin" "$sbin" ||
    echo "tpfs: no mount helpers here: mount -o remount cannot reach tpfs" >&2
exec "$@"
"""

#: Each CPU's FIFO ($fifos/cpuN) over its trace_pipe_raw in the namespace's copy
#: of the mount, and each instance's ($fifos/instances/NAME/cpuN) over
#: instances/NAME/per_cpu/cpuN/trace_pipe_raw, for the instances there are now;
#: the recursive binds then carry them to both paths. Once a FIFO is bound, a
#: lookup of its file in the namespace fills it (rawfifo), so none is looked up
#: again here.
RAW_FIFO_BINDS = r"""
if [ -n "$fifos" ]; then
    for fifo in "$fifos"/cpu*; do
        raw=$mnt/per_cpu/${fifo##*/}/trace_pipe_raw
        if [ -e "$raw" ]; then mount --bind "$fifo" "$raw"; fi
    done
    for fifo in "$fifos"/instances/*/cpu*; do
        name=${fifo%/*}; name=${name##*/}
        raw=$mnt/instances/$name/per_cpu/${fifo##*/}/trace_pipe_raw
        if [ -p "$fifo" ] && [ -e "$raw" ]; then mount --bind "$fifo" "$raw"; fi
    done
fi
"""
SETUP = SETUP.replace("$RAW_FIFO_BINDS", RAW_FIFO_BINDS)

USAGE = "usage: tpfs exec-as-tracefs MOUNTPOINT -- COMMAND [ARG...]"

#: Rootless: nothing inherited can be unmounted, tracefs cannot be mounted.
#: The mount goes over every tracefs it can reach (the first in /proc/mounts
#: is the one tools take), over /sys/kernel/tracing, and, on a tmpfs over
#: /sys/kernel/debug, at /sys/kernel/debug/tracing. perf takes TRACEFS_PATH
#: first; with no tracefs in /proc/mounts, libtracefs mounts one itself:
#: pretend_mount answers that mount(2) so that it uses /sys/kernel/tracing.
ROOTLESS_SETUP = r"""
mnt=$1; python=$2; shift 2
for m in $(awk '$3 == "tracefs" { print $2 }' /proc/mounts | sort -ru); do
    mount --bind "$mnt" "$(printf '%b' "$m")" 2>/dev/null || true
done
mount --bind "$mnt" /sys/kernel/tracing || exit 124
if mount -t tmpfs -o size=64k,mode=0755 none /sys/kernel/debug 2>/dev/null; then
    mkdir /sys/kernel/debug/tracing
    mount --bind "$mnt" /sys/kernel/debug/tracing
    if [ -e /proc/sys/kernel/ftrace_enabled ]; then
        cat /proc/sys/kernel/ftrace_enabled > /sys/kernel/debug/.ftrace_enabled
        mount --bind /sys/kernel/debug/.ftrace_enabled /proc/sys/kernel/ftrace_enabled \
            2>/dev/null || true
    fi
fi
export TRACEFS_PATH=/sys/kernel/tracing
if awk '$3 == "tracefs" { found = 1 } END { exit !found }' /proc/mounts; then
    exec "$@"
fi
exec "$python" -m tpfs.cli.pretend_mount "$@"
"""


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
    if unshare is None:
        print("tpfs: exec-as-tracefs needs unshare(1): as root run: apt-get install -y "
              "util-linux", file=sys.stderr)
        return 1
    rootless = not privileged()
    os.execv(unshare, [*unshare_argv(unshare, rootless=rootless),
                       *setup_argv(mnt, cmd, rootless=rootless)])


def privileged() -> bool:
    """Root of the machine: root in its first user namespace. Root in another (a
    rootless container) can neither mount tracefs nor unmount what it inherited."""
    if os.geteuid() != 0:
        return False
    try:
        with open("/proc/self/uid_map") as uid_map:
            return uid_map.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return True


def unshare_argv(unshare: str, *, rootless: bool) -> list[str]:
    """unshare(1) making the private namespace: rootless, a user namespace too, where the
    user is root; its mounts follow the host's (slave) so that an unmount there of
    another tpfs mount, which cannot be unmounted in here, reaches here too."""
    if rootless:
        return [unshare, "--user", "--map-root-user", "--mount", "--propagation", "slave"]
    return [unshare, "--mount", "--propagation", "private"]


def setup_argv(mnt: str, cmd: list[str], *, rootless: bool) -> list[str]:
    """Run inside the private namespace: make ``mnt`` the tracefs there, then exec ``cmd``."""
    if rootless:
        return ["sh", "-c", ROOTLESS_SETUP, "tpfs-exec", mnt, sys.executable, *cmd]
    return ["sh", "-c", SETUP, "tpfs-exec", mnt, shlex.quote(sys.executable), raw_fifos(mnt),
            *cmd]


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
