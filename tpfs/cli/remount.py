"""``mount``'s helper for ``tracefs`` and ``fuse.tpfs`` inside ``exec-as-tracefs``.

``mount -t tracefs -o remount,gid=N nodev MNT`` (as the kernel's
``mount_options`` selftest runs it) and ``mount -o remount,gid=N MNT`` would
reach a FUSE mount as ``mount(2)``'s ``MS_REMOUNT``, whose options FUSE
ignores, or run ``mount.fuse``, which looks for a ``tpfs`` program. In the
namespace ``exec-as-tracefs`` makes, ``mount.tracefs`` and ``mount.fuse.tpfs``
run this instead (``mount`` calls them as ``HELPER SPEC DIR [-o OPTIONS]
[flags]``). A remount of a tpfs mount hands its options to the daemon
(``tracefs/mount_options.py``), then lets ``mount -i`` remount the VFS flags;
a bad option fails as the kernel's does (exit 32, nothing changed).
Anything else goes on as if this helper were not there.
"""

from __future__ import annotations

import os
import subprocess
import sys

from ..kernel.errors import TpfsError
from ..tools.mounting import unescape
from ..tracefs.vfs.mount_options import REMOUNT_XATTR, MountOptions, parse_mount_options

#: ``mount``'s exit status for a failed mount.
MOUNT_FAILURE = 32
TPFS_TYPE = "fuse.tpfs"
#: What each helper name does with a mount that is not a tpfs remount.
PASS_ON = {
    "mount.tracefs": lambda spec, mnt, rest: ["mount", "-i", "-t", "tracefs", *rest, spec, mnt],
    "mount.fuse.tpfs": lambda spec, mnt, rest: ["mount.fuse", spec, mnt, *rest,
                                                *([] if "-t" in rest else ["-t", TPFS_TYPE])],
}


def mount_type(mnt: str) -> str | None:
    """The type of what is mounted on ``mnt`` (the topmost mount), or None."""
    found = None
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if unescape(fields[4]) == mnt:
                found = fields[fields.index("-", 6) + 1]
    return found


def options_of(rest: list[str]) -> str:
    """The ``-o`` options among ``mount``'s arguments to a helper, joined."""
    return ",".join(rest[i + 1] for i, arg in enumerate(rest[:-1]) if arg == "-o")


def remount(mnt: str, options: str) -> int:
    """tracefs's options to the daemon, the VFS flags to ``mount -i`` (which FUSE
    takes, ignoring the rest); while the mount is read-only no attribute can be
    written, so the daemon hears first when going read-only, last otherwise."""
    try:
        wanted = parse_mount_options(options)
    except TpfsError as exc:
        print(f"mount: {mnt}: bad option; {exc}.", file=sys.stderr)
        return MOUNT_FAILURE

    def tell_daemon() -> int:
        if wanted == MountOptions():
            return 0
        try:
            os.setxattr(mnt, REMOUNT_XATTR, options.encode())
        except OSError as exc:
            print(f"mount: {mnt}: {exc.strerror}.", file=sys.stderr)
            return MOUNT_FAILURE
        return 0

    def remount_vfs() -> int:
        return subprocess.run(["mount", "-i", "-o", options, mnt], check=False).returncode

    steps = (tell_daemon, remount_vfs) if "ro" in options.split(",") else (remount_vfs,
                                                                            tell_daemon)
    for step in steps:
        status = step()
        if status:
            return status
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 3 or os.path.basename(argv[0]) not in PASS_ON:
        print("usage: mount.tracefs|mount.fuse.tpfs SPEC DIR [-o OPTIONS]", file=sys.stderr)
        return MOUNT_FAILURE
    helper, spec, mnt, rest = os.path.basename(argv[0]), argv[1], argv[2], argv[3:]
    options = options_of(rest)
    mnt = os.path.realpath(mnt)
    if "remount" in options.split(",") and mount_type(mnt) == TPFS_TYPE:
        return remount(mnt, options)
    cmd = PASS_ON[helper](spec, mnt, rest)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
