"""An open pipe file's O_NONBLOCK now, as ``fcntl(F_SETFL)`` left it: found in /proc.

pyfuse3 passes a read neither its file's flags nor a way to ask for them,
and ``fcntl`` does not reach the daemon (trace-cmd sets O_NONBLOCK before
its last reads, and clears it again). The flags are in the reading task's
``/proc/PID/fdinfo/FD``: the entry whose ``ino`` is the file's and whose
``mnt_id`` is a tpfs mount's. Finding that entry means reading a whole fd
table, which for a task holding thousands of files takes long, so it is
done once, in chunks (``locate`` yields between them, and its driver lets
other requests in), and the place is remembered: afterwards each look
reads the one remembered ``fdinfo`` file, and looks again only if that
file is no longer this one. Only procfs is read: a ``stat`` of the mount
here would wait for this very daemon.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

#: The file system type tpfs mounts show in mountinfo (``subtype=tpfs``).
FSTYPE = "fuse.tpfs"
#: fdinfo files read between two yields of ``locate``.
CHUNK = 256


def _fields(text: str) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _read(path: str) -> str | None:
    try:
        with open(path) as info:
            return info.read()
    except OSError:
        return None


class FileFlags:
    """Where one open file of inode ``ino`` was last seen in a task's fd table."""

    __slots__ = ("ino", "opened_nonblocking", "_place")

    def __init__(self, ino: int, opened_nonblocking: bool) -> None:
        self.ino = ino
        self.opened_nonblocking = opened_nonblocking
        #: (pid, fd, mnt_id) of the fdinfo entry last found for this file.
        self._place: tuple[int, str, str] | None = None

    def _check(self, pid: int, fd: str, mounts: set[str] | str) -> bool | None:
        """O_NONBLOCK of ``pid``'s ``fd`` if it is this file; else None."""
        text = _read(f"/proc/{pid}/fdinfo/{fd}")
        if text is None or f"ino:\t{self.ino}\n" not in text:
            return None
        fields = _fields(text)
        mnt = fields.get("mnt_id", "")
        if mnt not in mounts:
            return None
        self._place = (pid, fd, mnt)
        return bool(int(fields.get("flags", "0"), 8) & os.O_NONBLOCK)

    def known(self, pid: int) -> bool | None:
        """O_NONBLOCK now from the remembered place, if it is still this file and
        ``pid``'s (one small read); None when it must be located afresh."""
        if self._place is None or self._place[0] != pid:
            return None
        _, fd, mnt = self._place
        found = self._check(pid, fd, {mnt})
        if found is None:
            self._place = None
        return found

    def locate(self, pid: int, result: list[bool]) -> Iterator[None]:
        """Scan ``pid``'s fd table for this file, yielding every ``CHUNK`` entries;
        appends its O_NONBLOCK to ``result`` if found (nothing if the task is gone
        or holds no such file)."""
        try:
            with open(f"/proc/{pid}/mountinfo") as mountinfo:
                ours = {line.split(maxsplit=1)[0] for line in mountinfo
                        if f" - {FSTYPE} " in line}
            if not ours:
                return
            # scandir reads the directory as it goes: the listing is chunked too.
            with os.scandir(f"/proc/{pid}/fdinfo") as entries:
                for count, entry in enumerate(entries, 1):
                    found = self._check(pid, entry.name, ours)
                    if found is not None:
                        result.append(found)
                        return
                    if count % CHUNK == 0:
                        yield
        except OSError:
            return

    def nonblocking(self, pid: int) -> bool:
        """From the remembered place only, else as the file was opened: for the
        looks a waiting read takes now and then, which must stay cheap."""
        found = self.known(pid)
        return self.opened_nonblocking if found is None else found
