"""The pytest plugin installed with tpfs: a fixture ``tracefs``, a private mount per test.

Registered through the ``pytest11`` entry point, so that a tool author's test
asks for ``tracefs`` and gets a fresh mount, unmounted after the test
whatever it did. The daemon is ``python -m tpfs`` in a subprocess
(``mounting.start_tpfs``): this module imports no daemon code. Mount options
come from the marker ``@pytest.mark.tpfs(cpus=4, kernel="3.1")``: each
keyword is the option of the same name (``_`` for ``-``; ``True`` a flag). A
project's own fixture of the same name (as tpfs's tests have) takes
precedence over this one, as pytest does for every fixture.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .mounting import Mount, MountError, start_tpfs

MARKER = "tpfs"
#: A line of ``trace``: TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: TEXT.
TRACE_LINE = re.compile(r"^\s*(?P<comm>.*)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?:\S+\s+)?"
                        r"(?P<ts>\d+\.\d+):\s+(?P<event>[^:\s]+):\s?(?P<text>.*)$")
#: ``name=value`` in an event's text (values without spaces).
FIELD = re.compile(r"(\w+)=(\S*)")


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One line of ``trace``: who, where, when, which event, and its fields as printed."""

    cpu: int
    pid: int
    comm: str
    timestamp: float
    event: str
    fields: dict[str, str]
    text: str


def parse_trace(text: str) -> list[TraceLine]:
    """The records of a ``trace`` text, in its order; comments and other lines skipped."""
    records = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = TRACE_LINE.match(line)
        if m is None:
            continue
        records.append(TraceLine(int(m["cpu"]), int(m["pid"]), m["comm"].strip(), float(m["ts"]),
                              m["event"], dict(FIELD.findall(m["text"])), m["text"]))
    return records


def mount_options(options: dict[str, object]) -> list[str]:
    """``cpus=4, kernel="3.1", allow_other=True`` as tpfs's command-line options."""
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False and value is not None:
            args += [flag, str(value)]
    return args


@dataclass(slots=True)
class Tracefs:
    """A mounted tpfs: its path and what tests do most with it."""

    mount: Mount
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = self.mount.path

    def write(self, name: str, text: str) -> None:
        """One write() of ``text`` to the file ``name``; OSError as the file answers."""
        self.mount.write(name, text)

    def read(self, name: str) -> str:
        return self.mount.read(name)

    def fire(self, line: str) -> None:
        """Fire events: a line of the ``fire`` file, ``SUBSYS:EVENT [@cpu=N] [FIELD=VALUE]...``."""
        self.write("fire", line + "\n")

    def load_module(self, name: str, *events: str, taint: str | None = None) -> None:
        """Load module ``name`` with tracepoints ``events`` (``subsys:event``)."""
        words = [name, *([f"taint={taint}"] if taint else []), *events]
        self.write("modules/load", " ".join(words) + "\n")

    def unload_module(self, name: str) -> None:
        self.write("modules/unload", name + "\n")

    def enable(self, event: str) -> None:
        """Enable ``subsys:event``, a whole ``subsys``, or ``all``."""
        path = "events" if event == "all" else "events/" + event.replace(":", "/")
        self.write(f"{path}/enable", "1\n")

    def trace(self) -> str:
        """The text of ``trace`` (what the buffers hold, not consumed)."""
        return self.read("trace")

    def records(self) -> list[TraceLine]:
        return parse_trace(self.trace())

    def run(self, cmd: str | Sequence[str], *, timeout: float = 300,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` (a list, or a string for sh) with this mount as its tracefs, as
        ``tpfs exec-as-tracefs`` does; its output captured as text."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return subprocess.run([sys.executable, "-m", "tpfs", "exec-as-tracefs", str(self.path),
                               "--", *argv], capture_output=True, text=True, timeout=timeout,
                              check=check)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(**options): tpfs mount options for the tracefs fixture, "
                   "e.g. cpus=4, kernel='3.1'")


@pytest.fixture
def tracefs(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracefs]:
    """A private tpfs mount for this test, unmounted afterwards."""
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        pytest.fail("tpfs: /dev/fuse is missing or not open to this user (docs/ci.md)",
                    pytrace=False)
    marker = request.node.get_closest_marker(MARKER)
    options = mount_options(dict(marker.kwargs) if marker else {})
    base = tmp_path_factory.mktemp("tpfs")
    try:
        mount = start_tpfs(base / "mnt", base / "daemon.log", *options)
    except MountError as exc:
        pytest.fail(f"tpfs did not mount: {exc}", pytrace=False)
    try:
        yield Tracefs(mount)
    finally:
        mount.stop()
