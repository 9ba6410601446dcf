"""``python -m tpfs.cli.pretend_mount CMD...``: run CMD with mount(2) of a bare filesystem
answered "done" without doing anything.

Rootless, where the machine has no tracefs mounted anywhere, /proc/mounts of
the user's namespace has no ``tracefs`` line and the user cannot make one
(tracefs cannot be mounted in a user namespace). libtracefs (and so
trace-cmd) then mounts tracefs at /sys/kernel/tracing itself and uses that
directory when the mount succeeds; perf does the same but also checks the
filesystem's magic, which is why ``TRACEFS_PATH`` is set for it as well.
/sys/kernel/tracing already holds the tpfs bind mount, so a mount(2) that
succeeds without doing anything sends them to it. A seccomp filter does this
for mount(2) calls with no flags and no data (how both libraries call it),
in CMD and its children only; every other system call, and every other
mount(2), is left alone. Where the filter cannot be installed (another
architecture, a kernel without seccomp), CMD runs without it.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

#: The audit architecture and mount(2)'s number, by ``platform.machine()``.
MOUNT_SYSCALL = {
    "x86_64": (0xC000003E, 165),
    "aarch64": (0xC00000B7, 40),
}

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000  # with errno 0: the call returns 0, done
LD_ABS_W = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K
#: Offsets in ``struct seccomp_data``: nr, arch, then args[0..5] from 16, 8 bytes each.
NR, ARCH, FLAGS, DATA = 0, 4, 16 + 3 * 8, 16 + 4 * 8


def _program(arch: int, nr: int) -> list[tuple[int, int, int, int]]:
    """The filter: (code, jump if true, jump if false, k) rows."""
    allow = [(RET_K, 0, 0, SECCOMP_RET_ALLOW)]
    checks = [(ARCH, arch), (NR, nr), (FLAGS, 0), (FLAGS + 4, 0), (DATA, 0), (DATA + 4, 0)]
    rows: list[tuple[int, int, int, int]] = []
    for index, (offset, value) in enumerate(checks):
        left = len(checks) - index - 1  # checks after this one, two rows each
        rows.append((LD_ABS_W, 0, 0, offset))
        # Equal: go on (to the next check or to "done"); else jump to "allow".
        rows.append((JEQ_K, 0, 2 * left + 1, value))
    return [*rows, (RET_K, 0, 0, SECCOMP_RET_ERRNO), *allow]


def install() -> bool:
    """Install the filter on this process (kept across exec); False where it cannot be."""
    known = MOUNT_SYSCALL.get(platform.machine())
    if known is None:
        return False
    rows = _program(*known)
    code = b"".join(struct.pack("=HBBI", *row) for row in rows)
    buffer = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(rows), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m tpfs.cli.pretend_mount COMMAND [ARG...]", file=sys.stderr)
        return 2
    if not install():
        print("tpfs: cannot answer mount(2) for tracefs here; libtracefs and trace-cmd "
              "may not find the mount", file=sys.stderr)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"tpfs: {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
