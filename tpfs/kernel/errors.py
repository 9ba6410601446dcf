"""The one error type the model and the command layer raise: an errno with a reason."""

from __future__ import annotations

import os


class TpfsError(Exception):
    """A request refused with ``errno``; the message says why, for the log."""

    def __init__(self, errno: int, reason: str = "") -> None:
        super().__init__(reason or os.strerror(errno))
        self.errno = errno
