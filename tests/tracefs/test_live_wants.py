"""What ``--live`` asks the kernel for as probes come and go (``LiveWants``), without a mount."""

from __future__ import annotations

from tpfs.tracefs.events.events import event_probe
from tpfs.tracefs.events.live_wants import LiveWants

HOST = "syscalls:sys_enter_getppid"
EPROBES = {"ep:ppid": HOST, "ep:other": HOST, "ep:mod": "mod:tick"}


class Sink:
    def __init__(self) -> None:
        self.told: list[str] = []

    def want(self, name: str) -> None:
        self.told.append(f"+{name}")

    def drop(self, name: str) -> None:
        self.told.append(f"-{name}")


def wants() -> tuple[LiveWants, Sink]:
    sink = Sink()
    return LiveWants([HOST, "sched:sched_switch"], sink, EPROBES.get), sink


def test_the_event_is_wanted_while_its_probe_or_an_eprobe_on_it_is_there() -> None:
    live, sink = wants()
    live.probes_changed("ep:ppid", (event_probe("ep:ppid", 3),))
    assert sink.told == [f"+{HOST}"] and live.recording() == {HOST, "ep:ppid"}
    live.probes_changed(HOST, (event_probe(HOST, 0),))
    live.probes_changed("ep:other", (event_probe("ep:other", 0),))
    live.probes_changed("ep:ppid", ())
    live.probes_changed(HOST, ())
    assert sink.told == [f"+{HOST}"]  # ep:other still wants it
    live.probes_changed("ep:other", ())
    assert sink.told == [f"+{HOST}", f"-{HOST}"] and live.recording() == set()


def test_an_eprobe_is_let_go_of_after_its_definition_went() -> None:
    sink, defined = Sink(), dict(EPROBES)
    live = LiveWants([HOST], sink, defined.get)
    live.probes_changed("ep:ppid", (event_probe("ep:ppid", 0),))
    del defined["ep:ppid"]
    live.probes_changed("ep:ppid", ())
    assert sink.told == [f"+{HOST}", f"-{HOST}"]


def test_eprobes_on_tpfs_s_own_events_and_other_probes_ask_for_nothing() -> None:
    live, sink = wants()
    live.probes_changed("ep:mod", (event_probe("ep:mod", 0),))
    live.probes_changed("ep:ppid", (event_probe("ep:other", 0),))  # not its event probe
    live.probes_changed("mod:tick", (event_probe("mod:tick", 0),))
    assert sink.told == [] and live.recording() == set()
