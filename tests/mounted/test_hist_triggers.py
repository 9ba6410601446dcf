"""Hist triggers through a mount: written to ``events/S/E/trigger``, fed by
firings through ``fire``, read back from ``events/S/E/hist``, per instance;
their actions fire synthetic events that record where those are enabled.

Expected text is the kernel's (Documentation/trace/histogram.rst and the
format strings of trace_events_hist.c), as tests/tracefs/test_hist.py cites.
"""

from __future__ import annotations

import errno
import os
import re
import stat

import pytest

from tpfs.tools.mounting import Mount
from tpfs.tracefs.events.symbols import host_symbols, host_syscalls

KMALLOC = "events/kmem/kmalloc/"
WAKING = "events/sched/sched_waking/"
SWITCH = "events/sched/sched_switch/"
PRINT = "events/ftrace/print/"
HIST_HELP = "# Available triggers:\n"
KMALLOC_HIST = "hist:keys=call_site:vals=hitcount,bytes_req:sort=hitcount:size=2048"


def kmalloc(site: int, req: int, extra: str = "") -> str:
    return f"kmem:kmalloc call_site={site} bytes_req={req} {extra}\n"


def refused(mount: Mount, name: str, text: str) -> int:
    with pytest.raises(OSError) as info:
        mount.write(name, text)
    assert info.value.errno is not None
    return info.value.errno


def test_kmalloc_histogram_through_the_mount(tpfs: Mount) -> None:
    """histogram.rst 6.2: keys and sums, entries sorted by hitcount, the totals;
    the event needs no ``enable``: the trigger puts it in soft mode."""
    assert tpfs.read(KMALLOC + "hist") == ""
    assert stat.S_IMODE((tpfs / (KMALLOC + "hist")).stat().st_mode) == 0o440
    tpfs.write(KMALLOC + "trigger", "hist:key=call_site:val=bytes_req")
    assert tpfs.read(KMALLOC + "enable") == "0*\n"
    tpfs.write("fire", kmalloc(18446744071580795365, 48, "@count=3")
               + kmalloc(18446744072106379007, 176))
    assert tpfs.read(KMALLOC + "hist") == (
        "# event histogram\n#\n"
        f"# trigger info: {KMALLOC_HIST} [active]\n#\n\n"
        "{ call_site: 18446744072106379007 } hitcount:          1  bytes_req:        176\n"
        "{ call_site: 18446744071580795365 } hitcount:          3  bytes_req:        144\n"
        "\nTotals:\n    Hits: 4\n    Entries: 2\n    Dropped: 0\n")
    assert tpfs.read("trace").count("kmalloc:") == 0  # soft-disabled: aggregated, not recorded


def test_trigger_file_lists_triggers_then_histograms(tpfs: Mount) -> None:
    """``register_trigger`` adds at the list's head, ``hist_trigger_enable`` at its tail."""
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site")
    tpfs.write(KMALLOC + "trigger", "traceoff if bytes_req > 1000")
    tpfs.write(KMALLOC + "trigger", "hist:keys=bytes_req.log2 if bytes_req > 8")
    tpfs.write(KMALLOC + "trigger", "stacktrace:2")
    assert tpfs.read(KMALLOC + "trigger") == (
        "stacktrace:count=2\n"
        "traceoff:unlimited if bytes_req > 1000\n"
        "hist:keys=call_site:vals=hitcount:sort=hitcount:size=2048 [active]\n"
        "hist:keys=bytes_req.log2:vals=hitcount:sort=hitcount:size=2048 if bytes_req > 8"
        " [active]\n")
    # Triggers run before the event's filter is asked (__event_trigger_test_discard).
    tpfs.write(KMALLOC + "enable", "1")
    tpfs.write(KMALLOC + "filter", "bytes_req > 5000")
    tpfs.write("fire", kmalloc(1, 4) + kmalloc(1, 100) + kmalloc(2, 2000))
    assert "kmalloc:" not in tpfs.read("trace")
    first, second = tpfs.read(KMALLOC + "hist").split("\n\n\n# event histogram")
    assert "Hits: 3\n" in first  # every firing, though the traceoff came before
    assert "{ bytes_req: ~ 2^7  } hitcount:          1\n" in second
    assert "{ bytes_req: ~ 2^11 } hitcount:          1\n" in second
    assert "Hits: 2\n" in second  # its filter left one out
    assert tpfs.read("tracing_on") == "0\n"


def test_pause_cont_clear_and_remove(tpfs: Mount) -> None:
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site")
    tpfs.write("fire", kmalloc(1, 1))
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site:pause")
    tpfs.write("fire", kmalloc(1, 1))
    assert tpfs.read(KMALLOC + "trigger").endswith(" [paused]\n")
    assert "Hits: 1\n" in tpfs.read(KMALLOC + "hist")
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site:cont")
    tpfs.write("fire", kmalloc(1, 1))
    assert "{ call_site:          1 } hitcount:          2\n" in tpfs.read(KMALLOC + "hist")
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site:clear")
    assert "Hits: 0\n    Entries: 0\n" in tpfs.read(KMALLOC + "hist")
    tpfs.write(KMALLOC + "trigger", "!hist:keys=call_site")
    assert tpfs.read(KMALLOC + "hist") == ""
    assert tpfs.read(KMALLOC + "trigger").startswith(HIST_HELP)
    assert tpfs.read(KMALLOC + "enable") == "0\n"  # out of soft mode with its last trigger


def test_errors_give_the_errno_and_an_error_log_entry(tpfs: Mount) -> None:
    assert refused(tpfs, KMALLOC + "trigger", "hist:keys=nosuch") == errno.EINVAL
    log = tpfs.read("error_log")
    assert "hist:kmem:kmalloc: error: Couldn't find field\n" in log
    assert log.endswith("  Command: hist:keys=nosuch\n" + " " * len("  Command: hist:keys=")
                        + "^\n")
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site")
    assert refused(tpfs, KMALLOC + "trigger", "hist:keys=call_site") == errno.EEXIST
    assert refused(tpfs, KMALLOC + "trigger", "hist:keys=ptr:cont") == errno.ENOENT
    assert tpfs.read(KMALLOC + "trigger") == (
        "hist:keys=call_site:vals=hitcount:sort=hitcount:size=2048 [active]\n")


def test_each_instance_has_its_own_histograms(tpfs: Mount) -> None:
    (tpfs / "instances" / "other").mkdir()
    inst = "instances/other/"
    tpfs.write(inst + KMALLOC + "trigger", "hist:keys=bytes_req")
    tpfs.write("fire", kmalloc(1, 8) + kmalloc(2, 8))
    assert tpfs.read(KMALLOC + "hist") == ""
    assert tpfs.read(KMALLOC + "enable") == "0\n"
    assert "{ bytes_req:          8 } hitcount:          2\n" in tpfs.read(inst + KMALLOC + "hist")
    assert refused(tpfs, inst + KMALLOC + "trigger", "hist:keys=nosuch") == errno.EINVAL
    assert "hist:kmem:kmalloc" in tpfs.read(inst + "error_log")
    assert tpfs.read("error_log") == ""
    (tpfs / "instances" / "other").rmdir()


def wakeup_latency(mount: Mount) -> None:
    """histogram.rst 6.3's wakeup latency, in raw time stamps (``trace_clock``
    ``counter`` makes them counts)."""
    mount.write("synthetic_events", "wakeup_latency u64 lat; pid_t pid; int prio\n")
    mount.write(WAKING + "trigger", 'hist:keys=pid:ts0=common_timestamp if comm=="cyclictest"')
    mount.write(SWITCH + "trigger",
                "hist:keys=next_pid:wakeup_lat=common_timestamp-$ts0:"
                "onmatch(sched.sched_waking).trace(wakeup_latency,$wakeup_lat,next_pid,next_prio)"
                ' if next_comm=="cyclictest"')


def test_onmatch_fires_a_synthetic_event_in_every_instance(tpfs: Mount) -> None:
    (tpfs / "instances" / "other").mkdir()
    inst = "instances/other/"
    wakeup_latency(tpfs)
    for root in ("", inst):  # after the triggers: each set its clock= (global) as it came
        tpfs.write(root + "trace_clock", "counter")
    tpfs.write("events/synthetic/wakeup_latency/enable", "1")
    tpfs.write(inst + "events/synthetic/wakeup_latency/enable", "1")
    tpfs.write("fire", "sched:sched_waking comm=cyclictest pid=42 prio=120\n"
               "sched:sched_waking comm=other pid=43 prio=120\n"
               "sched:sched_switch prev_pid=1 next_comm=cyclictest next_pid=42 next_prio=19\n"
               "sched:sched_switch prev_pid=1 next_comm=cyclictest next_pid=43 next_prio=19\n")
    # Each firing that reaches the top level's histograms reads its clock once:
    # 1 and 2 for the wakings, 3 for the switch. The values are that instance's,
    # the event records in both.
    for root in ("", inst):
        [line] = [x for x in tpfs.read(root + "trace").splitlines() if "wakeup_latency:" in x]
        assert line.endswith("wakeup_latency: lat=2 pid=42 prio=19"), line
    hist = tpfs.read(SWITCH + "hist")
    assert ":onmatch(sched.sched_waking).trace(wakeup_latency,$wakeup_lat,next_pid,next_prio)" \
        in hist
    assert "{ next_pid:         42 } hitcount:          1\n" in hist
    # The histograms on the synthetic event itself run too.
    tpfs.write("events/synthetic/wakeup_latency/trigger", "hist:keys=pid:vals=lat")
    tpfs.write("fire", "sched:sched_waking comm=cyclictest pid=42\n"
               "sched:sched_switch next_comm=cyclictest next_pid=42\n")
    assert "{ pid:         42 } hitcount:          1  lat:          1\n" in tpfs.read(
        "events/synthetic/wakeup_latency/hist")


def test_onmatch_records_a_field_saved_from_the_matched_event(tpfs: Mount) -> None:
    """histogram.rst, "Test of field variables on other histograms": ``prio`` is
    sched_waking's, saved there by a histogram made for it (``synthetic_prio``),
    listed in its ``trigger`` file; it goes with the trigger that made it."""
    tpfs.write("synthetic_events", "wakeup_latency u64 lat; pid_t pid; int prio\n")
    tpfs.write(WAKING + "trigger", "hist:keys=pid:ts0=common_timestamp")
    switch = ("hist:keys=next_pid:wakeup_lat=common_timestamp-$ts0:"
              "onmatch(sched.sched_waking).wakeup_latency($wakeup_lat,next_pid,prio)")
    tpfs.write(SWITCH + "trigger", switch)
    assert tpfs.read(WAKING + "trigger").splitlines()[1] == (
        "hist:keys=pid:vals=hitcount:synthetic_prio=prio:sort=hitcount:size=2048 [active]")
    tpfs.write("trace_clock", "counter")
    tpfs.write("events/synthetic/wakeup_latency/enable", "1")
    tpfs.write("fire", "sched:sched_waking pid=42 prio=7\n"
               "sched:sched_switch next_pid=42 next_prio=120\n")
    [line] = [x for x in tpfs.read("trace").splitlines() if "wakeup_latency:" in x]
    assert line.endswith("wakeup_latency: lat=1 pid=42 prio=7"), line
    tpfs.write(SWITCH + "trigger", "!" + switch)
    assert tpfs.read(WAKING + "trigger") == (
        "hist:keys=pid:vals=hitcount:ts0=common_timestamp:sort=hitcount:size=2048:"
        "clock=global [active]\n")


def test_a_synthetic_event_in_use_cannot_go(tpfs: Mount) -> None:
    wakeup_latency(tpfs)
    assert refused(tpfs, "synthetic_events", "!wakeup_latency\n") == errno.EBUSY
    assert "wakeup_latency" in tpfs.read("synthetic_events")
    tpfs.write(SWITCH + "trigger", "!hist:keys=next_pid:wakeup_lat=common_timestamp-$ts0:"
               "onmatch(sched.sched_waking).trace(wakeup_latency,$wakeup_lat,next_pid,next_prio)"
               ' if next_comm=="cyclictest"')
    tpfs.write("synthetic_events", "!wakeup_latency\n")
    assert tpfs.read("synthetic_events") == ""


def test_a_self_firing_synthetic_event_stops(tpfs: Mount) -> None:
    """A histogram on a synthetic event whose action fires that event: the
    nesting stops a few levels deep, as the ring buffer's recursion guard does."""
    tpfs.write("synthetic_events", "loop u64 n\n")
    tpfs.write("events/synthetic/loop/enable", "1")
    tpfs.write("events/synthetic/loop/trigger",
               "hist:keys=n:v=common_timestamp:onchange($v).trace(loop,$v)")
    tpfs.write("fire", "synthetic:loop n=5\n")
    lines = [line for line in tpfs.read("trace").splitlines() if " loop: n=" in line]
    assert len(lines) == 5 and lines[0].endswith(" loop: n=5")  # the firing, four nested


def test_hist_goes_with_its_event(tpfs: Mount) -> None:
    tpfs.write("modules/load", "m m:ev\n")
    tpfs.write("events/m/ev/trigger", "hist:keys=common_pid")
    tpfs.write("fire", "m:ev\n")
    hist = tpfs / "events/m/ev/hist"
    with hist.open() as held:
        assert "Hits: 1\n" in held.read()
        tpfs.write("modules/unload", "m\n")
        assert not hist.exists()
        held.seek(0)
        with pytest.raises(OSError) as info:
            held.read()
        assert info.value.errno == errno.ENODEV
    tpfs.write("modules/load", "m m:ev\n")
    assert tpfs.read("events/m/ev/hist") == ""
    assert tpfs.read("events/m/ev/trigger").startswith(HIST_HELP)


def test_a_trigger_with_time_stamps_sets_the_trace_clock(tpfs: Mount) -> None:
    """``hist_register_trigger``: ``clock=`` (global by default) becomes the
    instance's trace clock; a clock that is not there refuses the trigger."""
    (tpfs / "instances/one").mkdir()
    tpfs.write("instances/one/" + WAKING + "trigger", "hist:keys=pid:ts0=common_timestamp.usecs")
    assert "[global]" in tpfs.read("instances/one/trace_clock")
    assert "[local]" in tpfs.read("trace_clock")  # the top level's is its own
    tpfs.write(SWITCH + "trigger", "hist:keys=next_pid:ts1=common_timestamp:clock=counter")
    assert "[counter]" in tpfs.read("trace_clock")
    assert refused(tpfs, KMALLOC + "trigger",
                   "hist:keys=call_site:t=common_timestamp:clock=nosuch") == errno.EINVAL
    assert tpfs.read(KMALLOC + "trigger").count("hist:") == 0
    assert "Couldn't set trace_clock" in tpfs.read("error_log")
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site")  # no time stamps: no clock
    assert "[counter]" in tpfs.read("trace_clock")


def test_sym_keys_name_the_hosts_functions(tpfs: Mount) -> None:
    """``.sym`` (``%ps``, padded to 45) and ``.sym-offset`` (``%pS``, to 55) name a call
    site with the host's kallsyms, as the kernel names its own."""
    syms = host_symbols()
    assert syms.addresses, "this machine's /proc/kallsyms hides its addresses"
    at = len(syms.addresses) // 2
    start, name = syms.addresses[at], syms.names[at]
    size = syms.addresses[at + 1] - start
    site = start + size // 2
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site.sym")
    tpfs.write(KMALLOC + "trigger", "hist:keys=call_site.sym-offset")
    tpfs.write("fire", kmalloc(site, 8))
    first, second = tpfs.read(KMALLOC + "hist").split("\n\n\n# event histogram")
    assert f"{{ call_site: [{site:x}] {name:<45} }} hitcount:          1\n" in first
    text = f"{name}+{size // 2:#x}/{size:#x}"
    assert f"{{ call_site: [{site:x}] {text:<55} }} hitcount:          1\n" in second


def test_a_field_variables_histogram_keeps_and_leaves_soft_mode_with_it(tpfs: Mount) -> None:
    """The histogram an ``onmatch`` makes on the matched event to save a field
    counts as that event's trigger: its event stays in soft mode while it is
    there, and leaves it when the trigger that made it goes."""
    tpfs.write("synthetic_events", "woken pid_t pid; int prio\n")
    tpfs.write(WAKING + "trigger", "hist:keys=pid")
    tpfs.write(SWITCH + "trigger",
               "hist:keys=next_pid:onmatch(sched.sched_waking).woken(next_pid,prio)")
    assert "synthetic_prio=prio" in tpfs.read(WAKING + "trigger")
    tpfs.write(WAKING + "trigger", "!hist:keys=pid")
    assert tpfs.read(WAKING + "trigger").count("hist:") == 1  # the saved field's
    assert tpfs.read(WAKING + "enable") == "0*\n"
    tpfs.write(SWITCH + "trigger",
               "!hist:keys=next_pid:onmatch(sched.sched_waking).woken(next_pid,prio)")
    assert "hist:" not in tpfs.read(WAKING + "trigger")
    assert tpfs.read(WAKING + "enable") == tpfs.read(SWITCH + "enable") == "0\n"


def test_syscall_keys_are_named(tpfs: Mount) -> None:
    """histogram.rst's syscall-read example: ``id.syscall`` keys by their names."""
    assert host_syscalls(), "this machine has no asm/unistd_64.h"
    enter = "events/raw_syscalls/sys_enter/"
    tpfs.write(enter + "trigger", "hist:keys=id.syscall:vals=hitcount")
    tpfs.write("fire", "raw_syscalls:sys_enter id=0 @count=2\nraw_syscalls:sys_enter id=1\n"
               "raw_syscalls:sys_enter id=999\n")
    hist = tpfs.read(enter + "hist")
    assert f"{{ id: {'sys_read':<30}[  0] }} hitcount:          2\n" in hist
    assert f"{{ id: {'sys_write':<30}[  1] }} hitcount:          1\n" in hist
    assert f"{{ id: {'unknown_syscall':<30}[999] }} hitcount:          1\n" in hist


def test_print_histograms_count_an_instances_markers(tpfs: Mount) -> None:
    """``ftrace:print`` is no tracepoint, yet its ``hist`` aggregates each marker
    written in its own instance (trigger-trace-marker-hist.tc), filtered on the
    text as written; ``buf`` (size 0) is no key, as ``parse_field`` refuses it."""
    (tpfs / "instances" / "other").mkdir()
    inst, pid = "instances/other/", os.getpid()
    try:
        hist = inst + PRINT + "hist"
        assert stat.S_IMODE((tpfs / hist).stat().st_mode) == 0o440
        assert tpfs.read(hist) == ""
        assert refused(tpfs, inst + PRINT + "trigger", "hist:keys=buf") == errno.EINVAL
        tpfs.write(inst + PRINT + "trigger",
                   'hist:keys=common_pid:vals=hitcount if buf != "skip"')
        for text in ("a", "b\n", "skip", "skip\n"):
            tpfs.write(inst + "trace_marker", text)
        tpfs.write("trace_marker", "a")  # the top level's print: not this histogram
        assert f"{{ common_pid: {pid:>10} }} hitcount:          3\n" in tpfs.read(hist)
        assert tpfs.read(PRINT + "hist") == ""
        assert tpfs.read(inst + "trace").count("tracing_mark_write") == 4
    finally:
        (tpfs / "instances" / "other").rmdir()


def test_marker_to_marker_latency_fires_a_synthetic_event(tpfs: Mount) -> None:
    """trigger-trace-marker-synthetic.tc: two hists on print, ``onmatch(ftrace.print)``."""
    tpfs.write("synthetic_events", "latency u64 lat")
    tpfs.write(PRINT + "trigger", 'hist:keys=common_pid:ts0=common_timestamp.usecs'
               ' if buf == "start"')
    tpfs.write(PRINT + "trigger", 'hist:keys=common_pid:lat=common_timestamp.usecs-$ts0:'
               'onmatch(ftrace.print).latency($lat) if buf == "end"')
    tpfs.write("events/synthetic/latency/trigger", "hist:keys=common_pid,lat:sort=lat")
    tpfs.write("trace_marker", "start")
    tpfs.write("trace_marker", "end")
    assert len(re.findall(r"hitcount: +1$", tpfs.read(PRINT + "hist"), re.M)) == 2
    assert re.search(r"hitcount: +1$", tpfs.read("events/synthetic/latency/hist"), re.M)


def test_print_hist_aggregates_the_marker_a_traceoff_keeps(tpfs: Mount) -> None:
    """Triggers act around the marker's record: the hist before it, ``traceoff`` after."""
    tpfs.write(PRINT + "trigger", "hist:keys=common_pid")
    tpfs.write(PRINT + "trigger", "traceoff")
    tpfs.write("trace_marker", "last")
    assert tpfs.read("tracing_on") == "0\n"
    assert "Hits: 1\n" in tpfs.read(PRINT + "hist")
    assert tpfs.read("trace").count("tracing_mark_write: last") == 1
    assert refused(tpfs, "trace_marker", "more") == errno.EBADF
    tpfs.write(PRINT + "trigger", "!traceoff")
    tpfs.write(PRINT + "trigger", "!hist:keys=common_pid")
    assert tpfs.read(PRINT + "trigger").startswith(HIST_HELP)
