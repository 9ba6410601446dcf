"""A writer at a steady rate, for ``trace-cmd record`` to record.

``python bench/steady.py OUT SECONDS PATH DATA RATE EVENTS`` writes DATA to
PATH (``fire`` or ``trace_marker``) for SECONDS at RATE events a second,
each write firing EVENTS events (a ``fire`` line's ``@count``, or 1 for a
marker): the writes of each 10 ms tick, then a sleep to the next. A tick
that runs late is not skipped: the next follows at once, so every event is
fired and a slow file shows as a lower rate. OUT gets the events fired and
the seconds taken, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

TICK = 0.01


def main(argv: list[str]) -> int:
    out, seconds, path, data, rate, events = argv
    line = data.encode()
    ticks = round(float(seconds) / TICK)
    writes = max(round(int(rate) * TICK / int(events)), 1)
    fd = os.open(path, os.O_WRONLY)
    try:
        start = time.perf_counter()
        for tick in range(1, ticks + 1):
            for _ in range(writes):
                os.write(fd, line)
            time.sleep(max(start + tick * TICK - time.perf_counter(), 0))
        took = time.perf_counter() - start
    finally:
        os.close(fd)
    fired = ticks * writes * int(events)
    Path(out).write_text(json.dumps({"events": fired, "seconds": took}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
