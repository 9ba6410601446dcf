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
copy is bound over it. ``mount`` finds helpers for ``tracefs`` and
``fuse.tpfs`` there (an overlay on /sbin), so that ``mount -o remount,gid=N``
reaches the daemon (``remount.py``). Nothing outside the namespace changes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

SETUP = r"""
set -e
mnt=$1; python=$2; shift 2
for m in $(awk '$3 == "tracefs" || $3 == "debugfs" { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m"
done
awk '$3 == "fuse.tpfs" { print $2 }' /proc/mounts | while read -r m; do
    m=$(printf '%b' "$m")
    [ "$m" = "$mnt" ] || umount -l "$m" 2>/dev/null || true
done
mount -t tracefs nodev /sys/kernel/tracing
mount --bind "$mnt" /sys/kernel/tracing
mount -t tmpfs -o size=64k,mode=0755 none /sys/kernel/debug
mkdir /sys/kernel/debug/tracing
mount --bind "$mnt" /sys/kernel/debug/tracing
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
                       "sh", "-c", SETUP, "tpfs-exec", mnt, shlex.quote(sys.executable), *cmd])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
