"""What open ``hist`` handles cost the daemon (docs/histograms-memory.md).

    python bench/hist_memory.py [ENTRIES] [SORT]

Starts a daemon, fills one ``kmem:kmalloc`` histogram to ENTRIES keys
(default 131,072, the cap) through ``fire``, opens 8 handles of its ``hist``
file and reads 4 KiB from each, then one of them to the end; prints the
daemon's RSS before and after, the time of each first read and of a
``tracing_on`` read meanwhile. SORT is appended to the trigger (default
``:sort=bytes_req``, values spread so that the sort does real work).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tpfs.tools.mounting import start_tpfs

HANDLES = 8
EVENT = "events/kmem/kmalloc/"


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 17
    sort = sys.argv[2] if len(sys.argv) > 2 else ":sort=bytes_req"
    tmp = Path(tempfile.mkdtemp())
    mount = start_tpfs(tmp / "mnt", tmp / "log", "--seed", "1", wait=60)
    try:
        pid = mount.proc.pid
        mount.write(EVENT + "trigger", f"hist:keys=call_site:vals=bytes_req:size={entries}{sort}")
        start = time.monotonic()
        for at in range(0, entries, 1000):
            mount.write("fire", "".join(
                f"kmem:kmalloc call_site={site} bytes_req={site * 2654435761 % 100003}\n"
                for site in range(at, min(at + 1000, entries))))
        fill = time.monotonic() - start
        full = rss_mib(pid)
        fds = [os.open(mount / (EVENT + "hist"), os.O_RDONLY) for _ in range(HANDLES)]
        firsts = []
        for fd in fds:
            start = time.monotonic()
            os.read(fd, 4096)
            firsts.append(time.monotonic() - start)
        opened = rss_mib(pid)
        start = time.monotonic()
        (mount / "tracing_on").read_text()
        ping = time.monotonic() - start
        start = time.monotonic()
        size = 0
        while chunk := os.read(fds[0], 65536):
            size += len(chunk)
        rest = time.monotonic() - start
        for fd in fds:
            os.close(fd)
        print(f"entries={entries} fill={fill:.1f}s rss_full={full:.0f}MiB "
              f"rss_{HANDLES}_open={opened:.0f}MiB (+{opened - full:.1f}MiB) "
              f"first_read={min(firsts) * 1000:.0f}-{max(firsts) * 1000:.0f}ms "
              f"tracing_on={ping * 1000:.1f}ms rest_of_one={rest:.1f}s bytes={size}")
    finally:
        mount.stop()


if __name__ == "__main__":
    main()
