"""Events printed as the kernel's ``trace`` prints them (tpfs.tracefs.trace.printer).

libtraceevent must be installed: without it these tests fail, not skip.
"""

from __future__ import annotations

import pytest

from tpfs.tracefs.events.catalog import load_embedded
from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.trace.printer import (
    BH_OFF,
    HARDIRQ,
    IRQS_OFF,
    MARKER_IP,
    NEED_RESCHED,
    NEED_RESCHED_LAZY,
    NMI,
    PREEMPT_RESCHED,
    SOFTIRQ,
    Printer,
    header,
    lat_flags,
    stamp,
    task_column,
)
from tpfs.tracefs.trace.record import encode_print, layout

CATALOG = {e.name: e for e in load_embedded().events}


@pytest.fixture(scope="module")
def printer() -> Printer:
    p = Printer()
    for name in ("sched:sched_switch", "sched:sched_process_exec", "irq:irq_handler_entry",
                 "sched:sched_wakeup", "kvm:kvm_inj_exception"):
        p.add_event(CATALOG[name].subsys, CATALOG[name].format)
    return p


def encode(event: str, /, **values: int | str | bytes) -> bytes:
    return layout(CATALOG[event].format).encode(values, pid=7)


def test_sched_switch_prints_as_the_kernel(printer: Printer) -> None:
    rec = encode("sched:sched_switch", prev_comm="a", prev_pid=1, next_comm="b", next_pid=2)
    assert printer.text(rec) == ("prev_comm=a prev_pid=1 prev_prio=0 prev_state=R ==> "
                                 "next_comm=b next_pid=2 next_prio=0")
    rec = encode("sched:sched_switch", prev_comm="a", prev_pid=1, prev_state=0x81,
                 next_comm="b", next_pid=2, next_prio=120)
    assert printer.text(rec) == ("prev_comm=a prev_pid=1 prev_prio=0 prev_state=S|I ==> "
                                 "next_comm=b next_pid=2 next_prio=120")
    assert printer.line(rec, cpu=1, ts=1538129421499, comm="bash") == (
        "            bash-7       [001] .....  1538.129421: sched_switch: prev_comm=a prev_pid=1"
        " prev_prio=0 prev_state=S|I ==> next_comm=b next_pid=2 next_prio=120\n")


def test_other_events(printer: Printer) -> None:
    assert printer.text(encode("sched:sched_process_exec", filename="/bin/true", pid=5,
                               old_pid=5)) == "filename=/bin/true pid=5 old_pid=5"
    assert printer.text(encode("irq:irq_handler_entry", irq=9, name="acpi")) == \
        "irq=9 name=acpi"
    assert printer.text(encode("sched:sched_wakeup", comm="x", pid=3, prio=120,
                               target_cpu=1)) == "comm=x pid=3 prio=120 target_cpu=001"
    # libtraceevent cannot read this print fmt; it says so, as trace-cmd does.
    assert printer.text(encode("kvm:kvm_inj_exception")).startswith("[FAILED TO PARSE]")


def test_module_event_with_common_fields_only() -> None:
    p = Printer()
    fmt = f'name: ev1\nID: 65535\nformat:\n{COMMON_FIELDS}\n\nprint fmt: "%s", ""\n'
    p.add_event("my", fmt)
    rec = layout(fmt).encode(pid=42)
    assert p.text(rec) == ""
    assert p.line(rec, cpu=0, ts=5_000_000_000) == \
        "           <...>-42      [000] .....     5.000000: ev1: \n"


def test_marker_line(printer: Printer) -> None:
    rec = encode_print("hello", ip=MARKER_IP, pid=6444, preempt_count=1)
    assert printer.line(rec, cpu=0, ts=1538129421000) == (
        "           <...>-6444    [000] ...1.  1538.129421: tracing_mark_write: hello\n")
    printer.add_function("my_func", 0xFFFFFFFF82000000)
    rec = encode_print("two\nlines\n", ip=0xFFFFFFFF82000000, pid=0)
    assert printer.line(rec, cpu=1, ts=999, comm=None) == (
        "          <idle>-0       [001] .....     0.000001: my_func: two\nlines\n")


def test_replacing_a_format_keeps_the_others(printer: Printer) -> None:
    p = Printer()
    p.add_event("sched", CATALOG["sched:sched_switch"].format)
    first = f'name: ev1\nID: 65000\nformat:\n{COMMON_FIELDS}\n\nprint fmt: "one"\n'
    p.add_event("my", first)
    rec = layout(first).encode()
    assert p.text(rec) == "one"
    p.add_event("my", first.replace("ev1", "ev2").replace('"one"', '"two"'))
    assert p.line(rec, cpu=0, ts=0).endswith(" ev2: two\n")
    assert p.text(encode("sched:sched_switch", prev_comm="a")).startswith("prev_comm=a ")
    with pytest.raises(ValueError, match="no format"):
        p.text(layout(CATALOG["irq:irq_handler_entry"].format).encode())


def test_timestamps_round_to_microseconds_or_show_counts() -> None:
    assert stamp(1_499) == "    0.000001"
    assert stamp(1_500) == "    0.000002"
    assert stamp(999_999_500) == "    1.000000"
    assert stamp(123456_000_000_000) == "123456.000000"
    assert stamp(42, in_ns=False) == "          42"
    assert task_column("a-very-long-command", 1234567, 12, 0, 0) == \
        "a-very-long-command-1234567 [012] ....."
    assert task_column(None, 0, 1, 0, 0) == "          <idle>-0       [001] ....."
    assert task_column(None, 5, 1, 0, 0) == "           <...>-5       [001] ....."


@pytest.mark.parametrize(("flags", "preempt", "shown"), [
    (0, 0, "....."),
    (IRQS_OFF, 0, "d...."),
    (BH_OFF, 0, "b...."),
    (IRQS_OFF | BH_OFF, 0, "D...."),
    (NEED_RESCHED, 0, ".n..."),
    (NEED_RESCHED | PREEMPT_RESCHED, 0, ".N..."),
    (PREEMPT_RESCHED, 0, ".p..."),
    (NEED_RESCHED_LAZY, 0, ".l..."),
    (NEED_RESCHED_LAZY | PREEMPT_RESCHED, 0, ".L..."),
    (NEED_RESCHED | NEED_RESCHED_LAZY, 0, ".b..."),
    (NEED_RESCHED | NEED_RESCHED_LAZY | PREEMPT_RESCHED, 0, ".B..."),
    (HARDIRQ, 0, "..h.."),
    (SOFTIRQ, 0, "..s.."),
    (HARDIRQ | SOFTIRQ, 0, "..H.."),
    (NMI, 0, "..z.."),
    (NMI | HARDIRQ, 0, "..Z.."),
    (0, 0x01, "...1."),
    (0, 0x0F, "...f."),
    (0, 0x21, "...12"),
    (0, 0x30, "....3"),
    (IRQS_OFF | NEED_RESCHED | HARDIRQ, 0x12, "dnh21"),
])
def test_lat_flags(flags: int, preempt: int, shown: str) -> None:
    assert lat_flags(flags, preempt) == shown


def test_header() -> None:
    assert header(2, 3, 2) == (
        "# tracer: nop\n"
        "#\n"
        "# entries-in-buffer/entries-written: 2/3   #P:2\n"
        "#\n"
        "#                                _-----=> irqs-off/BH-disabled\n"
        "#                               / _----=> need-resched\n"
        "#                              | / _---=> hardirq/softirq\n"
        "#                              || / _--=> preempt-depth\n"
        "#                              ||| / _-=> migrate-disable\n"
        "#                              |||| /     delay\n"
        "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
        "#              | |         |   |||||     |         |\n")


def test_a_batch_prints_each_record_as_alone(printer: Printer) -> None:
    """One native call for many records gives each the text it has printed alone,
    in order, a long text among short ones and undecodable bytes kept."""
    records = [encode("sched:sched_switch", prev_comm=f"t{i}", prev_pid=i, next_comm="b",
                      next_pid=i * 7) for i in range(300)]
    records.insert(17, encode("sched:sched_process_exec", filename="/x" * 1500, pid=5,
                              old_pid=5))
    records.insert(40, encode("sched:sched_switch", prev_comm=b"\xff\xfe", prev_pid=3,
                              next_comm="b", next_pid=4))
    items = [(rec, i % 2, 1000 * i) for i, rec in enumerate(records)]
    batch = printer.texts(items)
    assert batch == [printer.text(rec, cpu=cpu, ts=ts) for rec, cpu, ts in items]
    assert batch[0] == ("prev_comm=t0 prev_pid=0 prev_prio=0 prev_state=R ==> "
                        "next_comm=b next_pid=0 next_prio=0")
    assert batch[1].startswith("prev_comm=t1 prev_pid=1 ") and batch[1].endswith("next_pid=7 "
                                                                                 "next_prio=0")
    assert batch[17] == "filename=" + "/x" * 1500 + " pid=5 old_pid=5"
    assert batch[40].startswith("prev_comm=\udcff\udcfe prev_pid=3 ")
    assert printer.texts([]) == []


def test_a_batch_with_an_unknown_event_prints_nothing(printer: Printer) -> None:
    good = encode("sched:sched_switch", prev_comm="a", prev_pid=1, next_comm="b", next_pid=2)
    unknown = (0xFFFE).to_bytes(2, "little") + good[2:]
    with pytest.raises(ValueError, match="no format"):
        printer.texts([(good, 0, 0), (unknown, 0, 0)])
