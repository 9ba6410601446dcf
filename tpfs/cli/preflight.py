"""What ``tpfs run`` checks before it starts anything, and its exit statuses.

Each problem a CI log can show is one line saying what to do, with a status
of its own, so that a script can tell "tpfs could not start" from the
command's own failure (docs/ci.md has the table). The checks are a table,
run in order; the first problem found ends ``tpfs run``.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

#: A system package is missing (the line names it and the apt-get command).
EXIT_PACKAGE = 121
#: /dev/fuse is missing or this user cannot open it.
EXIT_FUSE = 122
#: Not root, and the kernel lets no user make a user namespace.
EXIT_USERNS = 123
#: The daemon did not mount (its log's tail follows on standard error), or, rootless,
#: its mount could not be bound at /sys/kernel/tracing (nsexec's script exits so).
EXIT_MOUNT = 124
#: ``tpfs run`` was called wrongly (no ``--``, no command, a bad mount option).
EXIT_USAGE = 125
#: The command was found but cannot be run (as a shell says it).
EXIT_CANNOT_EXEC = 126
#: The command was not found (as a shell says it).
EXIT_NOT_FOUND = 127

#: Debian's packages for what ``tpfs run`` needs at run time, by what needs them.
PACKAGES = (("pyfuse3 (libfuse3.so.3)", "fuse3"), ("libtraceevent.so.1", "libtraceevent1"),
            ("unshare", "util-linux"))

#: The sysctls that may forbid user namespaces to users: (file, value that forbids, hint).
USERNS_SYSCTLS = (
    ("/proc/sys/user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=10000"),
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "sysctl -w kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why ``tpfs run`` cannot go on: one line for the log, and the exit status."""

    status: int
    message: str


def _has_pyfuse3() -> bool:
    try:
        import pyfuse3  # noqa: F401
    except ImportError:
        return False
    return True


def _has_libtraceevent() -> bool:
    try:
        ctypes.CDLL("libtraceevent.so.1")
    except OSError:
        return False
    return True


def packages() -> Problem | None:
    present = {"fuse3": _has_pyfuse3(), "libtraceevent1": _has_libtraceevent(),
               "util-linux": shutil.which("unshare") is not None}
    missing = [package for _, package in PACKAGES if not present[package]]
    if not missing:
        return None
    needed = ", ".join(what for what, package in PACKAGES if package in missing)
    return Problem(EXIT_PACKAGE, f"tpfs: missing system packages ({needed}): as root run: "
                                 f"apt-get install -y {' '.join(missing)}")


def fuse_device() -> Problem | None:
    if not os.path.exists("/dev/fuse"):
        return Problem(EXIT_FUSE, "tpfs: /dev/fuse is missing: as root run: modprobe fuse "
                                  "(in a container: start it with --device /dev/fuse)")
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        mode = os.stat("/dev/fuse").st_mode & 0o777
        return Problem(EXIT_FUSE, f"tpfs: /dev/fuse (mode {mode:04o}) is not open to this "
                                  "user: as root run: chmod 0666 /dev/fuse (Debian's udev "
                                  "rule does)")
    return None


def user_namespaces() -> Problem | None:
    """Rootless only: can this user make a user namespace and be root in it?"""
    if os.geteuid() == 0:  # in a user namespace too: root there may make another
        return None
    unshare = shutil.which("unshare") or "unshare"
    tried = subprocess.run([unshare, "--user", "--map-root-user", "true"],
                           capture_output=True, text=True)
    if tried.returncode == 0:
        return None
    for path, forbids, hint in USERNS_SYSCTLS:
        try:
            with open(path) as sysctl:
                value = sysctl.read().strip()
        except OSError:
            continue
        if value == forbids:
            return Problem(EXIT_USERNS, f"tpfs: this kernel lets no user make a user namespace "
                                        f"({path} is {value}): run as root, or as root run: "
                                        f"{hint}")
    why = tried.stderr.strip().splitlines()[-1] if tried.stderr.strip() else "refused"
    return Problem(EXIT_USERNS, f"tpfs: cannot make a user namespace ({why}): run as root, "
                                "or allow user namespaces (docs/ci.md)")


def command(cmd: list[str]) -> Problem | None:
    """Is ``cmd[0]`` a program this user can run, as a shell would find it?"""
    name = cmd[0]
    path = name if "/" in name else shutil.which(name)
    if path is None or not os.path.exists(path):
        return Problem(EXIT_NOT_FOUND, f"tpfs: {name}: command not found: install it or give "
                                       "its path")
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        return Problem(EXIT_CANNOT_EXEC, f"tpfs: {name}: cannot run it (not an executable "
                                         "file)")
    return None


#: The checks, in order: nothing else matters without the packages.
CHECKS: tuple[Callable[[], Problem | None], ...] = (packages, fuse_device, user_namespaces)
