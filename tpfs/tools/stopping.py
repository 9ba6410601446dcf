"""Ending a tool's loop on SIGTERM or SIGINT (Ctrl-C) with its summary, not a traceback."""

from __future__ import annotations

import signal
from types import FrameType


class StopFlag:
    """Set by SIGTERM or SIGINT once ``catch`` is called; the loop looks at ``stop``."""

    def __init__(self) -> None:
        self.stop = False

    def catch(self) -> StopFlag:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop = True
