"""tracefs's remount options as ``tracefs_parse_param`` reads them (no mount needed)."""

from __future__ import annotations

import errno

import pytest

from tpfs.kernel.errors import TpfsError
from tpfs.tracefs.vfs.mount_options import MountOptions, parse_mount_options


@pytest.mark.parametrize(("text", "expected"), [
    ("gid=5", MountOptions(gid=5)),
    ("rw,remount,relatime,gid=5", MountOptions(gid=5)),
    ("uid=0x10,gid=010", MountOptions(uid=16, gid=8)),  # u32 in any base
    ("mode=0750", MountOptions(mode=0o750)),
    ("mode=17777", MountOptions(mode=0o7777)),  # S_IALLUGO of it
    ("gid=1,gid=2", MountOptions(gid=2)),  # the last one counts
    ("user_id=0,group_id=0,default_permissions,allow_other", MountOptions()),  # FUSE's
    ("remount", MountOptions()),
])
def test_options_taken(text: str, expected: MountOptions) -> None:
    assert parse_mount_options(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("bogus=1", "tracefs: Unknown parameter 'bogus'"),
    ("gid=5,size=1", "tracefs: Unknown parameter 'size'"),
    ("gid=abc", "tracefs: Bad value for 'gid'"),
    ("gid", "tracefs: Bad value for 'gid'"),
    ("uid=4294967295", "tracefs: Bad value for 'uid'"),  # (uid_t)-1
    ("uid=4294967296", "tracefs: Bad value for 'uid'"),
    ("uid=-1", "tracefs: Bad value for 'uid'"),
    ("mode=999", "tracefs: Bad value for 'mode'"),  # octal
    ("mode=0x1ff", "tracefs: Bad value for 'mode'"),
])
def test_options_refused(text: str, message: str) -> None:
    with pytest.raises(TpfsError) as info:
        parse_mount_options(text)
    assert (info.value.errno, str(info.value)) == (errno.EINVAL, message)
