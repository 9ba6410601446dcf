"""Hist triggers and synthetic events: parsing, aggregation and the ``hist`` file, pure.

Expected text comes from Documentation/trace/histogram.rst where its examples
still match the kernel, else from the format strings of trace_events_hist.c
and trace_events_synth.c (Linux 6.6 and later), cited per test.
"""

from __future__ import annotations

import errno
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tpfs.kernel.errors import TpfsError
from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import Catalog, CatalogEvent
from tpfs.tracefs.events.hist import HistContext, HistError, HistHit, Resolvers
from tpfs.tracefs.events.own_probe import MAX_SYNTH_NESTING
from tpfs.tracefs.events.synth import SynthError, parse_synth_event
from tpfs.tracefs.events.trigger import hist_line
from tpfs.tracefs.trace.record import layout
from tpfs.tracefs.tree import Tree
from tpfs.tracefs.vfs.nodes import File, Opener

COMMON = (
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
)
# histogram.rst, "6.2 'hist' trigger examples": the kmalloc format.
KMALLOC = (
    f"name: kmalloc\nID: 374\nformat:\n{COMMON}\n"
    "\tfield:unsigned long call_site;\toffset:8;\tsize:8;\tsigned:0;\n"
    "\tfield:const void * ptr;\toffset:16;\tsize:8;\tsigned:0;\n"
    "\tfield:size_t bytes_req;\toffset:24;\tsize:8;\tsigned:0;\n"
    "\tfield:size_t bytes_alloc;\toffset:32;\tsize:8;\tsigned:0;\n"
    "\tfield:gfp_t gfp_flags;\toffset:40;\tsize:4;\tsigned:0;\n\n"
    'print fmt: "call_site=%lx", REC->call_site\n'
)
WAKING = (
    f"name: sched_waking\nID: 316\nformat:\n{COMMON}\n"
    "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    "\tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;\n"
    "\tfield:int target_cpu;\toffset:32;\tsize:4;\tsigned:1;\n\n"
    'print fmt: "comm=%s pid=%d", REC->comm, REC->pid\n'
)
SWITCH = (
    f"name: sched_switch\nID: 318\nformat:\n{COMMON}\n"
    "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    "\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n"
    "\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n"
    "\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n"
    "\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n\n"
    'print fmt: "prev_comm=%s", REC->prev_comm\n'
)
FORMATS = {("kmem", "kmalloc"): KMALLOC, ("sched", "sched_waking"): WAKING,
           ("sched", "sched_switch"): SWITCH}


def make_ctx() -> HistContext:
    return HistContext(lambda s, e: FORMATS.get((s, e)))


def kmalloc(ctx: HistContext, pid: int = 1, comm: str = "bash", ts: int = 0,
            **values: int) -> None:
    record = layout(KMALLOC).encode(values, pid=pid)
    assert ctx.fire("kmem", "kmalloc", HistHit(record, 0, pid, comm, ts)) == []


def refused(ctx: HistContext, line: str, event: str = "kmalloc",
            system: str = "kmem") -> HistError:
    with pytest.raises(HistError) as info:
        ctx.command(system, event, line)
    return info.value


def test_kmalloc_example_layout() -> None:
    """histogram.rst 6.2: the first kmalloc table's lines, totals and
    ordering (hitcount ascending by default). The doc's trigger info shows
    ``vals=bytes_req``; the kernel since prints the implicit hitcount first
    (``event_hist_trigger_print``: ``vals=hitcount,bytes_req``)."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:key=call_site:val=bytes_req")
    for _ in range(3):
        kmalloc(ctx, call_site=18446744071580795365, bytes_req=48)
    kmalloc(ctx, call_site=18446744072106379007, bytes_req=176)
    assert ctx.show("kmem", "kmalloc") == (
        "# event histogram\n#\n"
        "# trigger info: hist:keys=call_site:vals=hitcount,bytes_req:sort=hitcount:size=2048"
        " [active]\n#\n\n"
        "{ call_site: 18446744072106379007 } hitcount:          1  bytes_req:        176\n"
        "{ call_site: 18446744071580795365 } hitcount:          3  bytes_req:        144\n"
        "\nTotals:\n    Hits: 4\n    Entries: 2\n    Dropped: 0\n")
    [trigger] = ctx.triggers("kmem", "kmalloc")
    assert trigger.render() == (
        "hist:keys=call_site:vals=hitcount,bytes_req:sort=hitcount:size=2048 [active]\n")


def test_canonical_trigger_line() -> None:
    """``event_hist_trigger_print``: modifiers, sort with .descending, size
    rounded up to a power of two, and the filter."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site.sym-offset,gfp_flags.hex:"
                "values=bytes_req,bytes_alloc.hex:sort=bytes_req.descending,hitcount:size=100"
                " if bytes_req > 64")
    assert ctx.triggers("kmem", "kmalloc")[0].render() == (
        "hist:keys=call_site.sym-offset,gfp_flags.hex:vals=hitcount,bytes_req,bytes_alloc.hex:"
        "sort=bytes_req.descending,hitcount:size=128 if bytes_req > 64 [active]\n")


def test_sort_descending_and_secondary() -> None:
    """histogram.rst: ``sort=`` takes up to two fields, the second sorting
    within the first; ``.descending`` turns the order round."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:vals=bytes_req:"
                "sort=hitcount.descending,call_site")
    for site, count in ((5, 1), (9, 2), (7, 2), (3, 1)):
        for _ in range(count):
            kmalloc(ctx, call_site=site, bytes_req=1)
    lines = [line.split(" }")[0] for line in ctx.show("kmem", "kmalloc").splitlines()
             if line.startswith("{")]
    assert lines == ["{ call_site:          7", "{ call_site:          9",
                     "{ call_site:          3", "{ call_site:          5"]


def test_size_bounds_entries_and_counts_drops() -> None:
    """``tracing_map_insert``: a new key past ``size`` entries is dropped and
    counted; hits on existing keys still count."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:size=128")
    for site in range(130):
        kmalloc(ctx, call_site=site)
    kmalloc(ctx, call_site=0)
    assert ctx.show("kmem", "kmalloc").endswith(
        "\nTotals:\n    Hits: 129\n    Entries: 128\n    Dropped: 2\n")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=400))
def test_totals_count_every_hit_within_size(sites: list[int]) -> None:
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:size=128")
    for site in sites:
        kmalloc(ctx, call_site=site)
    text = ctx.show("kmem", "kmalloc")
    hits = int(text.split("Hits: ")[1].split("\n")[0])
    entries = int(text.split("Entries: ")[1].split("\n")[0])
    dropped = int(text.split("Dropped: ")[1].split("\n")[0])
    assert hits + dropped == len(sites)
    assert entries == min(len(set(sites)), 128) <= 128
    assert sum(int(line.split("hitcount:")[1]) for line in text.splitlines()
               if line.startswith("{")) == hits


def test_key_modifiers() -> None:
    """``hist_trigger_print_key``: ``%llx`` for .hex, ``[%llx] %-45ps`` for
    .sym, ``%-16s[%10llu]`` for .execname, ``~ 2^%-2llu`` for .log2,
    ``~ %llu-%llu`` for .buckets."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=common_pid.execname,call_site.sym,"
                "bytes_req.log2")
    kmalloc(ctx, pid=42, comm="bash", call_site=0xffffffff81000010, bytes_req=100)
    kmalloc(ctx, pid=0, comm="swapper", call_site=0x10, bytes_req=1)
    res = Resolvers(sym=lambda addr: "kmalloc_trace" if addr >> 63 else None)
    lines = [line for line in ctx.show("kmem", "kmalloc", res).splitlines()
             if line.startswith("{")]
    assert lines == [  # equal hitcounts: in the order the keys came
        "{ common_pid: bash            [        42], call_site: [ffffffff81000010] kmalloc_trace"
        + " " * 32 + ", bytes_req: ~ 2^7  } hitcount:          1",
        "{ common_pid: <idle>          [         0], call_site: [10] 0x10" + " " * 41
        + ", bytes_req: ~ 2^0  } hitcount:          1",
    ]
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=bytes_req.buckets=32,gfp_flags.hex")
    kmalloc(ctx, bytes_req=70, gfp_flags=0xcc0)
    assert "{ bytes_req: ~ 64-95, gfp_flags: cc0 } hitcount:          1\n" in ctx.show(
        "kmem", "kmalloc")
    assert ctx.triggers("kmem", "kmalloc")[0].render().startswith(
        "hist:keys=bytes_req.buckets=32,gfp_flags.hex:vals=hitcount:")


def test_string_key_and_percent_graph_values() -> None:
    """A ``char[N]`` key prints ``%-50s``; ``.percent`` and ``.graph`` values
    (``hist_trigger_print_val``) show shares of the column's total and max."""
    ctx = make_ctx()
    ctx.command("sched", "sched_waking", "hist:keys=comm:vals=prio.percent,target_cpu.graph:"
                "sort=comm")
    for comm, prio, cpu in (("a", 1, 1), ("b", 3, 4)):
        record = layout(WAKING).encode({"comm": comm, "prio": prio, "target_cpu": cpu})
        ctx.fire("sched", "sched_waking", HistHit(record, 0, 1, "x", 0))
    lines = [line for line in ctx.show("sched", "sched_waking").splitlines()
             if line.startswith("{")]
    assert lines == [
        "{ comm: a" + " " * 49 + " } hitcount:          1  prio (%):  25.00"
        "  target_cpu: #####               ",
        "{ comm: b" + " " * 49 + " } hitcount:          1  prio (%):  75.00"
        "  target_cpu: ####################",
    ]


def test_parse_errors_and_error_log_text() -> None:
    """The errors the kernel answers, with its ``err_text`` for the error log."""
    ctx = make_ctx()
    e = refused(ctx, "hist:keys=nosuch")
    assert (e.errno, e.messages, e.log) == (errno.EINVAL, ["Couldn't find field"], [(38, 10)])
    assert refused(ctx, "hist:keys=call_site.bogus").messages == ["Invalid field modifier"]
    assert refused(ctx, "hist:keys=call_site:sort=ptr").messages == [
        "Sort field must be a key or a val"]
    assert refused(ctx, "hist:keys=call_site:sort=call_site,hitcount,hitcount").messages == [
        "Too many sort fields (Max = 2)"]
    assert refused(ctx, "hist:keys=call_site:sort=hitcount.up").messages == [
        "Invalid sort modifier"]
    assert refused(ctx, "hist:keys=").messages == ["Empty assignment"]
    assert refused(ctx, "hist:keys=call_site:vals=hitcount:nohitcount").errno == errno.ENOENT
    assert refused(ctx, "hist:keys=call_site:vals=bytes_req.log2").messages == [
        "Invalid field modifier"]
    # No keys, a bad size, more than three keys: EINVAL with nothing logged.
    for line in ("hist:vals=bytes_req", "hist:keys=call_site:size=100000000",
                 "hist:keys=call_site,ptr,bytes_req,bytes_alloc", "hist:keys=call_site:bogus"):
        e = refused(ctx, line)
        assert (e.errno, e.log) == (errno.EINVAL, [])
    assert refused(ctx, "hist:keys=call_site:vals=bytes_req/0").errno == errno.EDOM
    assert ctx.triggers("kmem", "kmalloc") == []


def test_exists_remove_pause_cont_clear() -> None:
    """``hist_register_trigger``: the same histogram twice is EEXIST; ``pause``,
    ``cont`` and ``clear`` act on the matching one; ``!hist`` removes it."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site")
    assert refused(ctx, "hist:keys=call_site").errno == errno.EEXIST
    kmalloc(ctx, call_site=1)
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:pause")
    kmalloc(ctx, call_site=1)
    assert ctx.triggers("kmem", "kmalloc")[0].render().endswith(" [paused]\n")
    assert "Hits: 1\n" in ctx.show("kmem", "kmalloc")
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:cont")
    kmalloc(ctx, call_site=1)
    assert "Hits: 2\n" in ctx.show("kmem", "kmalloc")
    ctx.command("kmem", "kmalloc", "hist:keys=call_site:clear")
    assert "Hits: 0\n    Entries: 0\n" in ctx.show("kmem", "kmalloc")
    assert refused(ctx, "hist:keys=ptr:clear").messages == [
        "Can't clear or continue a nonexistent hist trigger"]
    ctx.command("kmem", "kmalloc", "!hist:keys=call_site")
    assert ctx.triggers("kmem", "kmalloc") == []
    assert ctx.show("kmem", "kmalloc") == ""


def test_filter_selects_hits() -> None:
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=call_site if bytes_req > 10")
    kmalloc(ctx, call_site=1, bytes_req=5)
    kmalloc(ctx, call_site=1, bytes_req=50)
    assert "Hits: 1\n" in ctx.show("kmem", "kmalloc")


def test_synthetic_event_listing_and_format() -> None:
    """``__synth_event_show`` and the format ``synth_event_define_fields`` and
    ``set_synth_event_print_fmt`` make."""
    event = parse_synth_event("wakeup_latency u64 lat; pid_t pid; char comm[16]; char path[]",
                              {})
    assert event.show() == "wakeup_latency\tu64 lat; pid_t pid; char[16] comm; char[] path\n"
    assert event.format(1800, COMMON) == (
        f"name: wakeup_latency\nID: 1800\nformat:\n{COMMON}\n"
        "\tfield:u64 lat;\toffset:8;\tsize:8;\tsigned:0;\n"
        "\tfield:pid_t pid;\toffset:16;\tsize:4;\tsigned:1;\n"
        "\tfield:char comm[16];\toffset:24;\tsize:16;\tsigned:1;\n"
        "\tfield:__data_loc char[] path;\toffset:280;\tsize:8;\tsigned:1;\n"
        '\nprint fmt: "lat=%llu, pid=%d, comm=%.*s, path=%.*s", REC->lat, REC->pid,'
        " REC->comm, __get_str(path)\n")
    with pytest.raises(SynthError) as info:
        parse_synth_event("wakeup_latency u64 lat", {"wakeup_latency": event})
    assert (info.value.errno, info.value.message) == (errno.EEXIST, "Event already exists")
    with pytest.raises(SynthError) as info:
        parse_synth_event("bad float x", {})
    assert info.value.message == "Invalid type"


def wakeup_ctx() -> HistContext:
    """histogram.rst, "2.2.3 Hist trigger 'handlers' and 'actions'": the
    wakeup latency example, on sched_waking and sched_switch."""
    ctx = make_ctx()
    ctx.synth_events["wakeup_latency"] = parse_synth_event(
        "wakeup_latency u64 lat; pid_t pid; int prio", ctx.synth_events)
    ctx.command("sched", "sched_waking", "hist:keys=pid:ts0=common_timestamp.usecs")
    return ctx


def waking(ctx: HistContext, pid: int, ts: int) -> None:
    record = layout(WAKING).encode({"pid": pid, "comm": "cyclictest"})
    assert ctx.fire("sched", "sched_waking", HistHit(record, 0, 1, "x", ts)) == []


def switch(ctx: HistContext, pid: int, ts: int, prio: int = 120) -> list[object]:
    record = layout(SWITCH).encode({"next_pid": pid, "next_prio": prio,
                                    "next_comm": "cyclictest"})
    return list(ctx.fire("sched", "sched_switch", HistHit(record, 0, 1, "x", ts)))


def test_usecs_divides_only_a_clock_that_counts_nanoseconds() -> None:
    """``hist_field_timestamp``: ``.usecs`` converts only when ``trace_clock_in_ns``;
    a counter clock's stamps stay counts."""
    for in_ns, lat in ((True, 3), (False, 3000)):
        ctx = wakeup_ctx()
        ctx.command("sched", "sched_switch",
                    "hist:keys=next_pid:wakeup_lat=common_timestamp.usecs-$ts0:"
                    "onmatch(sched.sched_waking).wakeup_latency($wakeup_lat,next_pid,next_prio)")
        record = layout(WAKING).encode({"pid": 7, "comm": "cyclictest"})
        ctx.fire("sched", "sched_waking", HistHit(record, 0, 1, "x", 1000, ts_in_ns=in_ns))
        record = layout(SWITCH).encode({"next_pid": 7, "next_prio": 99,
                                        "next_comm": "cyclictest"})
        [fired] = ctx.fire("sched", "sched_switch",
                           HistHit(record, 0, 1, "x", 4000, ts_in_ns=in_ns))
        assert fired.values["lat"] == lat


def test_onmatch_trace_fires_synthetic_event() -> None:
    ctx = wakeup_ctx()
    ctx.command("sched", "sched_switch",
                "hist:keys=next_pid:wakeup_lat=common_timestamp.usecs-$ts0:"
                "onmatch(sched.sched_waking).wakeup_latency($wakeup_lat,next_pid,next_prio)")
    assert ctx.triggers("sched", "sched_waking")[0].render() == (
        "hist:keys=pid:vals=hitcount:ts0=common_timestamp.usecs:sort=hitcount:size=2048:"
        "clock=global [active]\n")
    assert ctx.triggers("sched", "sched_switch")[0].render() == (
        "hist:keys=next_pid:vals=hitcount:wakeup_lat=common_timestamp.usecs-$ts0:"
        "sort=hitcount:size=2048:clock=global:onmatch(sched.sched_waking)."
        "wakeup_latency($wakeup_lat,next_pid,next_prio) [active]\n")
    assert switch(ctx, 7, 5_000_000) == []  # no waking yet: the reference is unset
    waking(ctx, 7, 1_000_000)
    waking(ctx, 8, 1_500_000)
    [fired] = switch(ctx, 7, 4_000_000, prio=99)
    assert fired.event == "wakeup_latency"  # type: ignore[attr-defined]
    assert fired.values == {"lat": 3000, "pid": 7, "prio": 99}  # type: ignore[attr-defined]
    # ts0 is read once: a second switch without a waking fires nothing, and
    # an unresolved reference keeps the hit out of the table (event_hist_trigger).
    assert switch(ctx, 7, 6_000_000) == []
    assert "Hits: 1\n" in ctx.show("sched", "sched_switch")


def test_trace_keyword_form_and_param_checks() -> None:
    ctx = wakeup_ctx()
    ctx.command("sched", "sched_switch",
                "hist:keys=next_pid:wakeup_lat=common_timestamp.usecs-$ts0:"
                "onmatch(sched.sched_waking).trace(wakeup_latency,$wakeup_lat,next_pid,"
                "next_prio)")
    assert ":onmatch(sched.sched_waking).trace(wakeup_latency,$wakeup_lat,next_pid,next_prio)" \
        in ctx.triggers("sched", "sched_switch")[0].render()
    waking(ctx, 3, 10_000)
    [fired] = switch(ctx, 3, 12_000)
    assert fired.values == {"lat": 2, "pid": 3, "prio": 120}  # type: ignore[attr-defined]
    ctx = wakeup_ctx()
    e = refused(ctx, "hist:keys=next_pid:lat=common_timestamp.usecs-$ts0:"
                "onmatch(sched.sched_waking).trace(wakeup_latency,$lat,next_pid)",
                "sched_switch", "sched")
    assert e.messages == ["Param count doesn't match synthetic event field count"]
    e = refused(ctx, "hist:keys=next_pid:lat=common_timestamp.usecs-$ts0:"
                "onmatch(sched.sched_waking).trace(wakeup_latency,next_comm,next_pid,next_prio)",
                "sched_switch", "sched")
    assert e.messages == ["Param type doesn't match synthetic event field type"]
    e = refused(ctx, "hist:keys=next_pid:lat=common_timestamp.usecs-$ts0:"
                "onmatch(sched.sched_waking).trace(nosuch,$lat)", "sched_switch", "sched")
    assert e.messages == ["Couldn't find synthetic event"]
    e = refused(ctx, "hist:keys=next_pid:onmatch(sched.nosuch).trace(wakeup_latency,$x)",
                "sched_switch", "sched")
    assert e.messages == ["Invalid subsystem or event name"]
    e = refused(ctx, "hist:keys=next_pid:lat=common_timestamp-$ts0", "sched_switch", "sched")
    assert e.messages == ["Timestamp units in expression don't match"]
    e = refused(ctx, "hist:keys=pid:ts0=common_timestamp", "sched_waking", "sched")
    assert e.messages == ["Variable already defined"]


FIELD_VAR_HIST = "hist:keys=pid:vals=hitcount:synthetic_prio=prio:sort=hitcount:size=2048"


def test_onmatch_param_naming_a_field_of_the_matched_event() -> None:
    """histogram.rst, "Test of field variables on other histograms": ``prio`` is
    sched_waking's; ``create_field_var_hist`` adds a histogram there keyed as
    the one with ``ts0`` (and filtered alike) saving it as ``synthetic_prio``,
    listed after it; the onmatch reads it with the same key."""
    ctx = make_ctx()
    ctx.synth_events["wakeup_latency"] = parse_synth_event(
        "wakeup_latency u64 lat; pid_t pid; int prio", ctx.synth_events)
    ctx.command("sched", "sched_waking",
                'hist:keys=pid:ts0=common_timestamp.usecs if comm=="cyclictest"')
    switch_line = ("hist:keys=next_pid:wakeup_lat=common_timestamp.usecs-$ts0:"
                   "onmatch(sched.sched_waking).wakeup_latency($wakeup_lat,next_pid,prio)")
    ctx.command("sched", "sched_switch", switch_line)
    assert [t.render() for t in ctx.triggers("sched", "sched_waking")] == [
        "hist:keys=pid:vals=hitcount:ts0=common_timestamp.usecs:sort=hitcount:size=2048:"
        'clock=global if comm=="cyclictest" [active]\n',
        f'{FIELD_VAR_HIST} if comm=="cyclictest" [active]\n']
    assert ctx.triggers("sched", "sched_switch")[0].render() == (
        "hist:keys=next_pid:vals=hitcount:wakeup_lat=common_timestamp.usecs-$ts0:"
        "sort=hitcount:size=2048:clock=global:onmatch(sched.sched_waking)."
        "wakeup_latency($wakeup_lat,next_pid,prio) [active]\n")
    record = layout(WAKING).encode({"pid": 7, "prio": 33, "comm": "cyclictest"})
    assert ctx.fire("sched", "sched_waking", HistHit(record, 0, 1, "x", 1_000_000)) == []
    [fired] = switch(ctx, 7, 4_000_000, prio=99)
    assert fired.values == {"lat": 3000, "pid": 7, "prio": 33}  # type: ignore[attr-defined]
    assert "{ pid:          7 } hitcount:          1\n" in ctx.show("sched", "sched_waking")
    # A second trigger naming it, qualified, reads the same variable.
    ctx.command("sched", "sched_switch",
                "hist:keys=prev_pid:onmatch(sched.sched_waking).wakeup_latency("
                "$ts0,prev_pid,sched.sched_waking.prio)")
    assert len(ctx.triggers("sched", "sched_waking")) == 2
    # Their histogram is the first trigger's: it goes with it, unless read by another.
    ctx.command("sched", "sched_switch", "!" + switch_line)
    assert len(ctx.triggers("sched", "sched_waking")) == 2
    ctx.command("sched", "sched_switch", "!hist:keys=prev_pid:onmatch(sched.sched_waking)."
                "wakeup_latency($ts0,prev_pid,sched.sched_waking.prio)")
    assert len(ctx.triggers("sched", "sched_waking")) == 2  # its maker went first: it stays
    ctx.command("sched", "sched_waking", '!hist:keys=pid:synthetic_prio=prio if comm=="cyclictest"')
    assert len(ctx.triggers("sched", "sched_waking")) == 1
    ctx.command("sched", "sched_switch", switch_line)
    assert ctx.drop_event("sched", "sched_switch") == {("sched", "sched_switch"),
                                                     ("sched", "sched_waking")}
    assert len(ctx.triggers("sched", "sched_waking")) == 1


def test_a_field_of_the_matched_event_needs_a_histogram_keyed_alike() -> None:
    """``create_field_var_hist``: no histogram there with keys of the same types
    (``compatible_keys``), no field variable; the error is logged at the field."""
    ctx = wakeup_ctx()
    e = refused(ctx, "hist:keys=next_comm:onmatch(sched.sched_waking).wakeup_latency("
                "$ts0,next_pid,prio)", "sched_switch", "sched")
    assert e.errno == errno.EINVAL
    assert e.messages == ["Couldn't find field", "Couldn't parse field variable",
                          "Matching event histogram not found"]
    assert e.log[-1][1] == e.command.rindex("prio")
    e = refused(ctx, "hist:keys=next_pid:onmatch(sched.sched_waking).wakeup_latency("
                "$ts0,next_pid,sched.sched_waking.nosuch)", "sched_switch", "sched")
    assert e.messages[-2:] == ["Couldn't find field", "Couldn't create histogram for field"]
    assert len(ctx.triggers("sched", "sched_waking")) == 1


def test_snapshot_action_needs_a_snapshot_buffer() -> None:
    """``action_create``: ``tracing_snapshot_cond_enable`` without
    ``CONFIG_TRACER_SNAPSHOT`` returns ``-ENODEV`` and logs nothing; the
    variable checks of ``track_data_create`` come first."""
    ctx = make_ctx()
    for handler in ("onmax", "onchange"):
        e = refused(ctx, f"hist:keys=common_pid:sz=bytes_req:{handler}($sz).snapshot()")
        assert (e.errno, e.messages) == (errno.ENODEV, [])
    e = refused(ctx, "hist:keys=common_pid:onmax(sz).snapshot()")
    assert e.messages == ["For onmax(x) or onchange(x), x must be a variable"]
    assert ctx.triggers("kmem", "kmalloc") == []


def test_onmax_save_tracks_the_maximum() -> None:
    """histogram.rst, onmax(): ``\\n\\tmax: %10llu`` then the saved fields
    (``track_data_print``)."""
    ctx = wakeup_ctx()
    ctx.command("sched", "sched_switch",
                "hist:keys=next_pid:wakeup_lat=common_timestamp.usecs-$ts0:"
                "onmax($wakeup_lat).save(next_comm,prev_pid)")
    assert ":onmax($wakeup_lat).save(next_comm,prev_pid) [active]\n" in ctx.triggers(
        "sched", "sched_switch")[0].render()
    for lat in (5, 9, 2):
        waking(ctx, 4, 1_000_000)
        switch(ctx, 4, 1_000_000 + lat * 1000)
    assert "{ next_pid:          4 } hitcount:          3\n\tmax:          9  next_comm: " \
        "cyclictest" + " " * 22 + "  prev_pid:          0\n" in ctx.show("sched", "sched_switch")
    e = refused(ctx, "hist:keys=next_pid:onmax(wakeup_lat).save(next_comm)", "sched_switch",
                "sched")
    assert e.messages == ["For onmax(x) or onchange(x), x must be a variable"]


def test_onmax_keeps_the_first_of_equal_maxima() -> None:
    """``check_track_val_max`` takes a value only above the tracked one: a tie
    saves nothing."""
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=common_pid:sz=bytes_req:"
                "onmax($sz).save(call_site)")
    for size, site in ((8, 1), (8, 2), (4, 3)):
        kmalloc(ctx, pid=5, bytes_req=size, call_site=site)
    body = ctx.show("kmem", "kmalloc").split("\n{")[1]
    assert "\n\tmax:          8  call_site:          1\n" in body


def test_onchange_counts_changes() -> None:
    ctx = make_ctx()
    ctx.command("kmem", "kmalloc", "hist:keys=common_pid:sz=bytes_req:"
                "onchange($sz).save(call_site)")
    for size, site in ((4, 1), (4, 2), (8, 3)):
        kmalloc(ctx, pid=5, bytes_req=size, call_site=site)
    body = ctx.show("kmem", "kmalloc").split("\n{")[1]
    assert "\n\tchanged:          8  call_site:          3\n" in body


# -- the hist layer in a tree: trigger files, soft mode, firing ----------------


class TreeRig:
    """A tree over the three events above, written and read through its nodes."""

    def __init__(self) -> None:
        catalog = Catalog(tuple(CatalogEvent(s, e, layout(f).id, f)
                                for (s, e), f in FORMATS.items()))
        self.registry = Registry([f"{s}:{e}" for s, e in FORMATS], seed=1)
        self.tree = Tree(self.registry, catalog, ncpus=2)

    def write(self, path: str, text: str) -> None:
        node = self.tree.resolve(path.split("/"))
        assert isinstance(node, File)
        node.open(Opener(os.O_WRONLY, pid=100)).write(0, text.encode())

    def read(self, path: str) -> str:
        node = self.tree.resolve(path.split("/"))
        assert isinstance(node, File)
        return node.open(Opener(os.O_RDONLY, pid=100)).read(0, 1 << 20).decode()


def test_hist_line_takes_a_colon_or_a_blank() -> None:
    """``trigger_process_regex`` splits the command at ``:``, a blank or a tab."""
    assert hist_line("hist:keys=a") == "hist:keys=a"
    assert hist_line("  hist keys=a if b == 1") == "hist:keys=a if b == 1"
    assert hist_line("!hist:keys=a") == "!hist:keys=a"
    assert hist_line("hist") == "hist"
    assert hist_line("traceon:hist") is None and hist_line("histx:keys=a") is None


def test_removing_a_trigger_that_defines_variables() -> None:
    """``create_var_field`` checks for a duplicate variable only when adding."""
    ctx = make_ctx()
    ctx.command("sched", "sched_waking", "hist:keys=pid:ts0=common_timestamp")
    assert refused(ctx, "hist:keys=pid:ts0=common_timestamp", "sched_waking",
                   "sched").messages == ["Variable already defined"]
    ctx.command("sched", "sched_waking", "!hist:keys=pid:ts0=common_timestamp")
    assert ctx.triggers("sched", "sched_waking") == []


def test_drop_event_takes_what_depends_on_it() -> None:
    """An event gone: its histograms, those matching it, those reading their
    variables; the others stay."""
    ctx = wakeup_ctx()
    ctx.command("sched", "sched_switch",
                "hist:keys=next_pid:lat=common_timestamp.usecs-$ts0:"
                "onmatch(sched.sched_waking).wakeup_latency($lat,next_pid,next_prio)")
    ctx.command("sched", "sched_switch", "hist:keys=prev_pid")
    ctx.command("kmem", "kmalloc", "hist:keys=call_site")
    assert ctx.uses_synth("wakeup_latency") and not ctx.uses_synth("other")
    assert ctx.drop_event("sched", "sched_waking") == {("sched", "sched_waking"),
                                                     ("sched", "sched_switch")}
    assert [t.render().split(":")[1] for t in ctx.triggers("sched", "sched_switch")] == [
        "keys=prev_pid"]
    assert not ctx.uses_synth("wakeup_latency") and ctx.triggered("kmem", "kmalloc")
    assert ctx.drop_event("sched", "sched_waking") == set()


def test_trigger_file_order_soft_mode_and_counting() -> None:
    """Triggers at the head, hist triggers at the tail; the first trigger of
    either kind puts the event in soft mode, the last takes it out."""
    rig = TreeRig()
    ev = "events/kmem/kmalloc/"
    rig.write(ev + "trigger", "hist:keys=call_site")
    assert rig.read(ev + "enable") == "0*\n"
    rig.write(ev + "trigger", "traceon")
    assert rig.read(ev + "trigger") == (
        "traceon:unlimited\nhist:keys=call_site:vals=hitcount:sort=hitcount:size=2048 [active]\n")
    rig.write(ev + "trigger", "!traceon")
    assert rig.read(ev + "enable") == "0*\n"  # the hist trigger holds it
    rig.write("fire", "kmem:kmalloc call_site=3\n")
    assert "{ call_site:          3 } hitcount:          1\n" in rig.read(ev + "hist")
    assert rig.read("trace").count("kmalloc") == 0
    rig.write(ev + "trigger", "!hist:keys=call_site")
    assert rig.read(ev + "enable") == "0\n" and rig.read(ev + "hist") == ""


def test_a_refused_hist_command_leaves_no_soft_mode() -> None:
    rig = TreeRig()
    with pytest.raises(HistError):
        rig.write("events/kmem/kmalloc/trigger", "hist:keys=nosuch")
    assert rig.read("events/kmem/kmalloc/enable") == "0\n"
    assert "hist:kmem:kmalloc: error: Couldn't find field" in rig.read("error_log")


def test_synthetic_events_nest_at_most_four_deep() -> None:
    rig = TreeRig()
    rig.write("synthetic_events", "loop u64 n\n")
    rig.write("events/synthetic/loop/enable", "1")
    rig.write("events/synthetic/loop/trigger", "hist:keys=n:v=common_timestamp:"
              "onchange($v).trace(loop,$v)")
    rig.write("fire", "synthetic:loop n=1\n")
    assert rig.read("trace").count(" loop: n=") == 1 + MAX_SYNTH_NESTING
    with pytest.raises(TpfsError) as info:
        rig.write("synthetic_events", "!loop\n")  # its triggers hold it
    assert info.value.errno == errno.EBUSY


def test_a_module_going_takes_its_histograms() -> None:
    rig = TreeRig()
    rig.registry.module_coming("m", ["m:ev"])
    rig.write("events/m/ev/trigger", "hist:keys=common_pid")
    rig.write("fire", "m:ev\n")
    layer = rig.tree.events
    assert layer.enabled("m:ev")
    rig.registry.module_going("m")
    assert not layer.hist.triggered("m", "ev") and not rig.registry.entries.get("m:ev")
    rig.registry.module_coming("m", ["m:ev"])
    assert rig.read("events/m/ev/hist") == ""
    assert rig.read("events/m/ev/enable") == "0\n"


@pytest.mark.parametrize(("command", "message", "caret"), [
    ("myevent chr arg", "Invalid type", 8),
    ("myevent unsigned arg", "Incomplete type", 8),
    ("myevent char str]; int v", "Illegal name", 13),
    ("mye-vent char str[]", "Illegal name", 0),
    ("myevent char st-r[]", "Illegal name", 13),
    ("myevent char str;[]", "Invalid field", 17),
    ("myevent char str; int", "Invalid field", 18),
    ("myevent char str[; int v", "Invalid array specification", 13),
    ("myevent char str[kdjdk]", "Invalid array specification", 13),
    ("myevent char str[257]", "Invalid array specification", 13),
    # check_command: a name and a whole field before the first ';'
    ("mye;vent char str[]", "Command must be of the form: <name> field[;field] ...", 0),
    ("myevent ; char str[]", "Command must be of the form: <name> field[;field] ...", 0),
    ("myevent; char str[]", "Command must be of the form: <name> field[;field] ...", 0),
    ("; char str[]", "Command must be of the form: <name> field[;field] ...", 0),
    ("myevent", "Command must be of the form: <name> field[;field] ...", 0),
    ("s:junk/myevent char str[", "Command must be of the form: s or -:[synthetic/]<name> "
                                 "field[;field] ...", 0),
    # errpos is strstr: a word is placed where it first appears in the command
    ("chr chr x", "Invalid type", 0),
])
def test_synthetic_errors_carry_the_kernels_caret(command: str, message: str, caret: int) -> None:
    with pytest.raises(SynthError) as info:
        parse_synth_event(command, {})
    assert (info.value.message, info.value.pos) == (message, caret)


def test_a_synthetic_event_holds_63_fields_at_most() -> None:
    """``__create_synth_event`` refuses once its array of 64 would be full."""
    fields = "; ".join(f"u64 f{i}" for i in range(63))
    assert len(parse_synth_event(f"wide {fields}", {}).fields) == 63
    with pytest.raises(SynthError) as info:
        parse_synth_event(f"wide {fields}; u64 f63", {})
    assert info.value.message == "Too many fields"
