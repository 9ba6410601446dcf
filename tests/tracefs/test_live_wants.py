"""What ``--live`` asks the kernel for as probes come and go (``LiveWants``), without
a mount: alone, and over a tree whose registry tells it (an eprobe wants its
attached event through the soft mode it holds the event in)."""

from __future__ import annotations

from tracefs.treefiles import SWITCH, TreeFiles

from tpfs.tracefs.events.events import event_probe
from tpfs.tracefs.events.live_wants import LiveWants

HOST = "syscalls:sys_enter_getppid"


class Sink:
    def __init__(self) -> None:
        self.told: list[str] = []

    def want(self, name: str) -> None:
        self.told.append(f"+{name}")

    def drop(self, name: str) -> None:
        self.told.append(f"-{name}")


def test_the_event_is_wanted_while_some_instance_s_probe_is_there() -> None:
    sink = Sink()
    live = LiveWants([HOST, SWITCH], sink)
    live.probes_changed(HOST, (event_probe(HOST, 3),))
    assert sink.told == [f"+{HOST}"] and live.recording() == {HOST}
    live.probes_changed(HOST, (event_probe(HOST, 3), event_probe(HOST, 0)))
    live.probes_changed(HOST, (event_probe(HOST, 0),))
    assert sink.told == [f"+{HOST}"]  # the top level's still wants it
    live.probes_changed(HOST, ())
    assert sink.told == [f"+{HOST}", f"-{HOST}"] and live.recording() == set()


def test_tpfs_s_own_events_and_other_probes_ask_for_nothing() -> None:
    sink = Sink()
    live = LiveWants([HOST], sink)
    live.probes_changed("mod:tick", (event_probe("mod:tick", 0),))
    live.probes_changed(HOST, (event_probe("ep:other", 0),))  # not its event probe
    assert sink.told == [] and live.recording() == set()


def test_an_eprobe_wants_its_event_while_it_is_enabled_anywhere() -> None:
    sink = Sink()
    live = LiveWants([SWITCH], sink)
    files = TreeFiles(on_probes=live.probes_changed)
    files.write("dynamic_events", "e:ep/f sched/sched_switch p=$prev_pid\n")
    files.mkdir("instances/one")
    files.write("instances/one/events/ep/f/enable", "1")
    files.write("events/ep/f/enable", "1")
    assert sink.told == [f"+{SWITCH}"]
    files.write("instances/one/events/ep/f/enable", "0")
    assert sink.told == [f"+{SWITCH}"]
    files.write("events/ep/f/enable", "0")
    assert sink.told == [f"+{SWITCH}", f"-{SWITCH}"]
