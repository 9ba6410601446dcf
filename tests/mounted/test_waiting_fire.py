"""A long ``fire`` write through a mount: other clients are served while it runs,
SIGTERM ends the daemon within the README's 5 s, and a refused write fires
nothing however long it would have been."""

from __future__ import annotations

import errno
import signal
import threading
import time

import pytest

from tpfs.tools.mounting import Mount, is_mounted

INSTANCES = 16
LONG_FIRE = "sched:sched_switch prev_pid=1 next_pid=2 @count=100000\n"


def recording_everywhere(mount: Mount) -> None:
    mount.write("events/sched/sched_switch/enable", "1")
    for i in range(INSTANCES):
        (mount / f"instances/i{i}").mkdir()
        mount.write(f"instances/i{i}/events/sched/sched_switch/enable", "1")


def test_a_long_fire_write_lets_others_in_and_sigterm_ends_it(mount_factory) -> None:
    """100,000 firings into 17 recording buffers take many seconds; meanwhile
    another client's reads are answered, and SIGTERM unmounts at once."""
    mount = mount_factory()
    recording_everywhere(mount)
    outcome: list[BaseException | str] = []

    def fire() -> None:
        try:
            mount.write("fire", LONG_FIRE)
            outcome.append("done")
        except OSError as exc:
            outcome.append(exc)

    writer = threading.Thread(target=fire, daemon=True)
    writer.start()
    try:
        time.sleep(0.5)  # the write is under way
        slowest = 0.0
        for _ in range(5):
            asked = time.monotonic()
            assert mount.read("tracing_on") == "1\n"
            slowest = max(slowest, time.monotonic() - asked)
        # Answered while the write still runs: it does not hold the daemon.
        assert writer.is_alive() and not outcome, outcome
        assert slowest < 1, f"a tracing_on read waited {slowest:.2f} s"
        # Some of it is in the buffers already, as the kernel fires one by one.
        assert "sched_switch" in mount.read("instances/i0/trace").split("\n", 20)[-1]
        sent = time.monotonic()
        mount.proc.send_signal(signal.SIGTERM)
        assert mount.proc.wait(5) == 0
        assert time.monotonic() - sent < 5
        assert not is_mounted(mount.path)
        writer.join(5)
        assert outcome and isinstance(outcome[0], OSError)  # cut short
    finally:
        if mount.proc.poll() is None:  # a daemon stuck in the write: end it
            mount.proc.kill()
        writer.join(5)


def test_a_refused_long_write_fires_nothing(tpfs: Mount) -> None:
    tpfs.write("events/sched/sched_switch/enable", "1")
    with pytest.raises(OSError) as exc:
        tpfs.write("fire", LONG_FIRE.replace("100000", "90000") + "sched:sched_switch bad\n")
    assert exc.value.errno == errno.EINVAL
    assert "sched_switch" not in tpfs.read("trace")
