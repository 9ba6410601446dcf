"""The workload tool through a real mount: what it prints is what it fires and what
trace shows, every catalogue event takes its values, --events, --rate and
--duration hold, signals end it with status 0, and modules going away do not."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

from tpfs.tools.mounting import Mount

from conftest import ROOT

TWO = "sched:sched_switch,irq:irq_handler_entry"


def workload(mount: Mount, *args: str, module: str = "tpfs.workload") -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", *module.split(), str(mount.path), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    return res.returncode, res.stdout, res.stderr


def summary(err: str) -> dict[str, float]:
    m = re.search(r"workload done: (.*)", err)
    assert m, err
    return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", m[1])}


def events_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def hits(mount: Mount, name: str) -> int:
    return sum(int(line.split()[2]) for line in mount.read(f"probes/{name}").splitlines())


def wait_for_hits(mount: Mount, name: str, above: int, timeout: float = 20) -> None:
    """Wait until the probes on ``name`` count more than ``above`` hits."""
    deadline = time.monotonic() + timeout
    while hits(mount, name) <= above:
        assert time.monotonic() < deadline, f"{name} stayed at {hits(mount, name)} hits"
        time.sleep(0.05)


def test_a_seeded_run_fires_what_it_prints_and_trace_shows_it(tpfs: Mount) -> None:
    tpfs.write("trace_clock", "counter")
    tpfs.write("events/enable", "1")
    args = ("--seed", "4", "--count", "300", "--burst", "2", "--events", TWO)
    code, printed, _ = workload(tpfs, "--print", *args)
    assert code == 0
    code, out, err = workload(tpfs, *args)
    assert code == 0 and out == "", err
    assert summary(err)["firings"] == 300 and summary(err)["errors"] == 0
    expected = []
    for line in printed.splitlines():
        name, *words = line.split()
        at = dict(w[1:].split("=", 1) for w in words if w.startswith("@"))
        fields = [w for w in words if not w.startswith(("@", "prev_state="))]
        expected += [(name.partition(":")[2], at, fields)] * int(at.get("count", 1))
    lines = events_of(tpfs.read("trace"))
    assert len(lines) == len(expected) == 300  # nothing else fired: --events held
    for line, (event, at, fields) in zip(lines, expected, strict=True):
        task, cpu, _, _, text = line.split(maxsplit=4)
        assert task == f"{at['comm']}-{at['pid']}" and cpu == f"[{int(at['cpu']):03}]"
        assert text.startswith(f"{event}: ")
        assert all(field in text.split() for field in fields), (line, fields)
    assert {e for e, _, _ in expected} == {"sched_switch", "irq_handler_entry"}
    saved = tpfs.read("saved_cmdlines")
    assert all(f"{at['pid']} {at['comm']}\n" in saved for _, at, _ in expected)


def test_the_same_seed_gives_the_same_lines_by_either_command(tpfs: Mount) -> None:
    args = ("--print", "--count", "2000", "--events", "sched:*,block:*,net:*")
    code, first, _ = workload(tpfs, "--seed", "8", *args)
    assert code == 0 and len(first.splitlines()) > 300
    assert workload(tpfs, "--seed", "8", *args, module="tpfs workload")[1] == first
    assert workload(tpfs, "--seed", "9", *args)[1] != first


def test_every_catalogue_event_takes_the_values_it_gets(tpfs: Mount) -> None:
    tpfs.write("events/enable", "1")
    code, _, err = workload(tpfs, "--seed", "9", "--count", "20000", "--burst", "1")
    assert code == 0, err
    s = summary(err)
    assert s["firings"] == 20000 and s["errors"] == 0 and s["skipped"] == 0
    assert "firing 2305 events" in err
    stats = [tpfs.read(f"per_cpu/cpu{n}/stats") for n in range(2)]
    assert all(re.search(r"^entries: [1-9]", st, re.M) for st in stats)  # both CPUs fired


def test_rate_and_duration(tpfs: Mount) -> None:
    start = time.monotonic()
    code, _, err = workload(tpfs, "--rate", "1000", "--duration", "2", "--burst", "1",
                            "--events", "sched:*")
    took = time.monotonic() - start
    assert code == 0, err
    s = summary(err)
    assert 1.9 <= s["seconds"] <= 2.5 and took < 8
    assert 1000 <= s["firings"] <= 2000 + 50  # one batch is 50 ms' worth


def test_a_signal_ends_it_with_status_0_and_a_summary(tpfs: Mount) -> None:
    tpfs.write("probes/register", "sched:sched_switch watch\n")
    for signum in (signal.SIGTERM, signal.SIGINT):
        proc = subprocess.Popen([sys.executable, "-m", "tpfs.workload", str(tpfs.path),
                                 "--events", "sched:sched_switch"],
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)
        wait_for_hits(tpfs, "sched:sched_switch", hits(tpfs, "sched:sched_switch"))
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert summary(err)["firings"] >= 1 and summary(err)["errors"] == 0


def test_modules_going_and_coming_back_do_not_end_it(tpfs: Mount) -> None:
    tpfs.write("probes/register", "wl:ev0 watch\nsched:sched_switch watch\n")
    tpfs.write("modules/load", "wlmod wl:ev0 wl:ev1\n")
    proc = subprocess.Popen([sys.executable, "-m", "tpfs.workload", str(tpfs.path),
                             "--events", "wl:*,sched:sched_switch", "--rate", "2000",
                             "--burst", "1"], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        wait_for_hits(tpfs, "wl:ev0", 0)
        for _ in range(8):
            tpfs.write("modules/unload", "wlmod\n")
            wait_for_hits(tpfs, "sched:sched_switch", hits(tpfs, "sched:sched_switch") + 100)
            tpfs.write("modules/load", "wlmod wl:ev0 wl:ev1\n")
            wait_for_hits(tpfs, "wl:ev0", hits(tpfs, "wl:ev0"))  # the list is read again
        assert proc.poll() is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    s = summary(err)
    assert s["skipped"] >= 1 and s["errors"] == 0 and s["firings"] > 1000
