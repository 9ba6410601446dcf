"""The options tracefs takes when it is remounted: ``uid``, ``gid`` and ``mode``.

``tracefs_parse_param`` takes ``uid=`` and ``gid=`` (a u32 in any base, not
``(uid_t)-1``), and ``mode=`` (octal, the root directory's permission bits);
on a remount only the options given change (``tracefs_apply_options``), the
owner and group of every file follow, and the mode is the root's alone. Any
other word is refused (EINVAL: ``Unknown parameter``), and so is a bad value,
and then nothing changes.

A FUSE daemon never sees a remount (FUSE takes ``mount(2)``'s ``MS_REMOUNT``
and ignores its options), so ``exec-as-tracefs`` gives ``mount`` a helper
(``tpfs/cli/remount.py``) that hands the option string to the daemon as the
value of the ``REMOUNT_XATTR`` attribute of the mount's root. The generic
words ``mount`` adds (``rw``, ``remount``, ``relatime``...) and the options
FUSE shows for the mount in /proc/mounts (which a script remounting "with
what it has, plus gid=" passes back) are not tracefs's and are skipped here.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from ...kernel.errors import TpfsError

#: The attribute of the mount's root whose write is a remount (``trusted.``: root only).
REMOUNT_XATTR = "trusted.tpfs.remount"
#: Words ``mount`` and the VFS take themselves (``MS_*`` flags and ``mount(8)``'s own).
GENERIC_OPTIONS = frozenset({
    "remount", "rw", "ro", "defaults", "suid", "nosuid", "dev", "nodev", "exec", "noexec",
    "sync", "async", "dirsync", "atime", "noatime", "diratime", "nodiratime", "relatime",
    "norelatime", "strictatime", "nostrictatime", "lazytime", "nolazytime", "mand", "nomand",
    "silent", "loud", "auto", "noauto", "user", "nouser", "users", "owner", "group", "nofail",
    "_netdev", "bind", "rbind",
})
#: Options of the FUSE connection, shown in /proc/mounts; a remount ignores them.
FUSE_OPTIONS = frozenset({"user_id", "group_id", "default_permissions", "allow_other",
                          "max_read", "blksize", "fd", "rootmode"})
_U32 = 1 << 32
_INVALID_ID = _U32 - 1  # (uid_t)-1: uid_valid() is false
_S_IALLUGO = 0o7777


@dataclass(frozen=True, slots=True)
class MountOptions:
    """What a remount sets; None: left as it is."""

    uid: int | None = None
    gid: int | None = None
    mode: int | None = None


def _kstrtouint(text: str, base: int) -> int | None:
    """``kstrtouint`` in ``base`` (0: ``0x`` hex, ``0`` octal, else decimal); None if refused."""
    body = text[1:] if text.startswith("+") else text
    if base == 0:
        base, body = ((16, body[2:]) if body[:2].lower() == "0x" and len(body) > 2
                      else (8, body) if body.startswith("0") else (10, body))
    digits = "0123456789abcdef"[:base]
    if not body or any(c not in digits for c in body.lower()):
        return None
    value = int(body, base)
    return value if value < _U32 else None


def _id(text: str) -> int | None:
    value = _kstrtouint(text, 0)
    return None if value == _INVALID_ID else value


def _mode(text: str) -> int | None:
    value = _kstrtouint(text, 8)
    return None if value is None else value & _S_IALLUGO


#: Each tracefs parameter: how its value is read (None: a bad value).
_PARAMETERS: dict[str, Callable[[str], int | None]] = {"uid": _id, "gid": _id, "mode": _mode}


def parse_mount_options(text: str) -> MountOptions:
    """A remount's comma-separated options, or TpfsError(EINVAL) naming the first
    bad one as ``mount`` would show the kernel's message."""
    values: dict[str, int] = {}
    for word in text.split(","):
        key, eq, value = word.partition("=")
        if not word or key in GENERIC_OPTIONS or key in FUSE_OPTIONS:
            continue
        parse = _PARAMETERS.get(key)
        if parse is None:
            raise TpfsError(errno.EINVAL, f"tracefs: Unknown parameter '{key}'")
        number = parse(value) if eq else None
        if number is None:
            raise TpfsError(errno.EINVAL, f"tracefs: Bad value for '{key}'")
        values[key] = number
    return MountOptions(**values)
