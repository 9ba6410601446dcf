"""Probe definitions the kernel here cannot check (kprobes, eprobes), as its
documentation (Documentation/trace/kprobetrace.rst, eprobetrace.rst) and
trace_probe.c give them; uprobes are compared with the kernel in
tests/compat/test_dynamic_events_compat.py."""

from __future__ import annotations

import errno

import pytest

from tpfs.tracefs.dynamic.eprobe import EPROBE_KIND, fetch_value
from tpfs.tracefs.dynamic.kind import CreateContext
from tpfs.tracefs.dynamic.kprobe import KPROBE_KIND
from tpfs.tracefs.dynamic.probes import ProbeError, ProbeEvent
from tpfs.tracefs.dynamic.removal import Removal, parse_removal
from tpfs.tracefs.dynamic.uprobe import UPROBE_KIND
from tpfs.tracefs.events.events import COMMON_FIELDS
from tpfs.tracefs.events.filter import filter_fields
from tpfs.tracefs.trace.record import layout

SWITCH_FORMAT = (
    "name: sched_switch\nID: 1\nformat:\n" + COMMON_FIELDS + "\n"
    "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    "\tfield:__data_loc char[] name;\toffset:28;\tsize:4;\tsigned:0;\n\n"
    'print fmt: "%d", REC->prev_pid\n')


def parse_probe(line: str, files=None, event_fields=None, same_symbols=None) -> ProbeEvent:
    """A definition as ``dynamic_events`` takes it: offered to each probe kind in turn."""
    ctx = CreateContext([], files or (lambda path: True), event_fields or (lambda name: None),
                        same_symbols, 1, {})
    for kind in (KPROBE_KIND, UPROBE_KIND, EPROBE_KIND):
        definition = kind.create(line, ctx)
        if definition is not None:
            assert isinstance(definition, ProbeEvent)
            return definition
    raise ProbeError(errno.EINVAL)


def fields(name: str):
    return filter_fields(SWITCH_FORMAT) if name == "sched:sched_switch" else None


@pytest.mark.parametrize(("line", "shown", "name"), [
    ("p vfs_read", "p:kprobes/p_vfs_read_0 vfs_read\n", "kprobes:p_vfs_read_0"),
    ("r vfs_read", "r:kprobes/r_vfs_read_0 vfs_read\n", "kprobes:r_vfs_read_0"),
    ("p vfs_read+16 %di", "p:kprobes/p_vfs_read_16 vfs_read+16 arg1=%di\n",
     "kprobes:p_vfs_read_16"),
    ("r10:my/ret vfs_read $retval:s32", "r10:my/ret vfs_read arg1=$retval:s32\n", "my:ret"),
    ("p:myprobe do_sys_open dfd=%ax filename=%dx flags=%cx mode=+4($stack)",
     "p:kprobes/myprobe do_sys_open dfd=%ax filename=%dx flags=%cx mode=+4($stack)\n",
     "kprobes:myprobe"),
    ("p:open do_sys_open name=+0($arg2):string sym=@jiffies:symbol",
     "p:kprobes/open do_sys_open name=+0($arg2):string sym=@jiffies:symbol\n", "kprobes:open"),
    ("e:sched/switch sched.sched_switch prev=$prev_pid:u32 comm=$prev_comm",
     "e:sched/switch sched.sched_switch prev=$prev_pid:u32 comm=$prev_comm\n", "sched:switch"),
    ("e sched.sched_switch $prev_pid", "e:eprobes/sched_switch sched.sched_switch "
     "arg1=$prev_pid\n", "eprobes:sched_switch"),
])
def test_definitions_are_named_and_shown_as_the_kernel_does(line: str, shown: str,
                                                            name: str) -> None:
    probe = parse_probe(line, event_fields=fields)
    assert probe.show() == shown
    assert probe.name == name


def test_a_return_probe_by_suffix() -> None:
    probe = parse_probe("p:myret vfs_read%return $retval")
    assert probe.is_return and probe.show() == "r:kprobes/myret vfs_read arg1=$retval\n"


def test_kprobe_format_has_the_probe_ip_then_packed_arguments() -> None:
    fmt = parse_probe("p:k vfs_read a=%di:u16 s=+0(%si):string y=@jiffies:symbol c=$comm"
                      ).format(7, COMMON_FIELDS)
    assert fmt == (
        "name: k\nID: 7\nformat:\n" + COMMON_FIELDS + "\n"
        "\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n"
        "\tfield:u16 a;\toffset:16;\tsize:2;\tsigned:0;\n"
        "\tfield:__data_loc char[] s;\toffset:18;\tsize:4;\tsigned:1;\n"
        "\tfield:u64 y;\toffset:22;\tsize:8;\tsigned:0;\n"
        "\tfield:__data_loc char[] c;\toffset:30;\tsize:4;\tsigned:1;\n\n"
        'print fmt: "(%lx) a=%u s=\\"%s\\" y=%pS c=\\"%s\\"", REC->__probe_ip, REC->a, '
        "__get_str(s), REC->y, __get_str(c)\n")


def test_eprobe_format_has_no_probe_ip_and_its_arguments_follow_the_fields() -> None:
    probe = parse_probe("e:ep sched.sched_switch pid=$prev_pid comm=$prev_comm n=$name",
                        event_fields=fields)
    fmt = probe.format(9, COMMON_FIELDS)
    assert fmt.endswith(
        "\tfield:s32 pid;\toffset:8;\tsize:4;\tsigned:1;\n"
        "\tfield:__data_loc char[] comm;\toffset:12;\tsize:4;\tsigned:1;\n"
        "\tfield:__data_loc char[] n;\toffset:16;\tsize:4;\tsigned:1;\n\n"
        'print fmt: " pid=%d comm=\\"%s\\" n=\\"%s\\"", REC->pid, __get_str(comm), '
        "__get_str(n)\n")
    record = layout(SWITCH_FORMAT).encode({"prev_comm": "bash", "prev_pid": -3, "name": "xy"})
    assert [fetch_value(a, record) for a in probe.args] == [-3, "bash", "xy"]


# (definition, the kernel's error_log message, where its caret goes)
BAD = [
    ("r vfs_read+4", "Retprobe address must be an function entry", 2),
    ("p:x vfs_read $retval", "$retval is not available on probe", 13),
    ("p:x vfs_read+4 $arg1", "$arg* can be used only on function entry or exit", 15),
    ("p:x vfs_read $arg0", "Invalid argument number", 13),
    ("p:x vfs_read $stackx", "Invalid stack number", 13),
    ("p:x vfs_read $foo", "Invalid $-variable specified", 13),
    ("p:x vfs_read a=+0(%ax", "Dereference brace is not closed", 21),
    ("p:x vfs_read a=+0($comm)", "$comm can not be dereferenced", 18),
    ("p:x vfs_read a=\\zz", "Invalid immediate value", 16),
    ("p:x vfs_read a=@9zz", "Invalid memory address", 15),
    ("p:x vfs_read a=$comm:u32", "$comm and immediate-string only accepts string type", 21),
    ("p10:x vfs_read", "Maxactive is not for kprobe", 1),
    ("r5000:x vfs_read", "Maxactive is too big", 1),
    ("p:x/ vfs_read", None, 0),
    ("p:/x vfs_read", "Group name is not specified", 2),
    ("p:x 9vfs", "Invalid probed address or symbol", 4),
    ("p:x vfs_read 1a=%ax", "Argument name must follow the same rules as C identifiers", 13),
    ("e:x sched.nosuch", "Attached event does not exist", 4),
    ("e:x sched.sched_switch $nosuch", "Attached event does not have this field", 23),
    ("e:x sched.sched_switch a=%ax", "Invalid $-variable specified", 25),
]


@pytest.mark.parametrize(("line", "message", "caret"), BAD)
def test_bad_definitions_carry_the_kernels_message(line: str, message: str | None,
                                                   caret: int) -> None:
    if message is None:  # an empty event name after the group: the default name
        assert parse_probe(line).name == "x:p_vfs_read_0"
        return
    with pytest.raises(ProbeError) as info:
        parse_probe(line, event_fields=fields)
    # alloc_event_probe's ENODEV for a missing event; every other refusal is EINVAL
    assert info.value.errno == (errno.ENODEV if message == "Attached event does not exist"
                                else errno.EINVAL)
    assert (info.value.message, info.value.pos) == (message, caret)


def test_removals() -> None:
    assert parse_removal("-:g/ev") == Removal("g", "ev")
    assert parse_removal("-:ev") == Removal(None, "ev")
    assert parse_removal("p:ev vfs_read") is None
    assert parse_removal("-:g/") == Removal("g", "")  # matches nothing: ENOENT, as the kernel
    assert parse_removal("-:g/ev /bin/true:0x10 x=%ax") == Removal(
        "g", "ev", ("/bin/true:0x10", "x=%ax"))
    with pytest.raises(ProbeError):
        parse_removal("-:")


def test_a_removal_with_a_place_and_arguments_matches_only_those() -> None:
    probe = parse_probe("p:g/ev /bin/true:0x10 x=%ax y=%bx", files=lambda path: True)
    assert parse_removal("-:g/ev").matches(probe)  # type: ignore[union-attr]
    assert parse_removal("-:ev /bin/true:0x0000000000000010 x=%ax").matches(  # type: ignore[union-attr]
        probe)
    assert not parse_removal("-:ev /bin/true:0x10").matches(probe)  # type: ignore[union-attr]
    assert not parse_removal("-:ev /bin/true:0x0000000000000010 y=%bx").matches(  # type: ignore[union-attr]
        probe)


def _same_symbols(symbol: str) -> int | None:
    """A kernel with one ``vfs_read``, two ``init_once``, and a loaded module ``ext4``."""
    counts = {"vfs_read": 1, "init_once": 2, "ext4:ext4_sync_fs": 1, "ext4:init_once": 0}
    if symbol.startswith("ext4:") or ":" not in symbol:
        return counts.get(symbol, 0)
    return None  # a module not loaded: left to its load


@pytest.mark.parametrize(("line", "message"), [
    ("p:x no_such_function", "Invalid probed address or symbol"),
    ("r:x no_such_function", "Invalid probed address or symbol"),
    ("p:x no_such_function+8", "Invalid probed address or symbol"),
    ("p:x init_once", "The symbol is not unique"),
    ("p:x ext4:init_once", "Invalid probed address or symbol"),
    # the symbol is checked before the return probe's place
    ("r:x no_such_function+4", "Invalid probed address or symbol"),
])
def test_a_kprobes_symbol_must_name_one_kernel_symbol(line: str, message: str) -> None:
    with pytest.raises(ProbeError) as info:
        parse_probe(line, same_symbols=_same_symbols)
    assert (info.value.errno, info.value.message, info.value.pos) == (errno.EINVAL, message, 4)


@pytest.mark.parametrize("line", ["p:x vfs_read", "p:x vfs_read+16", "r:x vfs_read",
                                  "p:x ext4:ext4_sync_fs", "p:x notloaded:anything",
                                  "p:x 0xffffffff81000000"])
def test_a_kprobe_on_a_unique_symbol_or_an_unloaded_module_or_an_address_is_taken(
        line: str) -> None:
    assert parse_probe(line, same_symbols=_same_symbols).kind == "kprobe"
    assert parse_probe("p:x anything").place == "anything"  # no symbol table: any name


@pytest.mark.parametrize(("line", "message", "caret", "err"), [
    # traceprobe_split_symbol_offset: an offset past UINT_MAX is no place
    ("p:x vfs_read+0x100000000", "Invalid probed address or symbol", 4, errno.EINVAL),
    # a colon with no name after it
    ("p: vfs_read", "Event name is not specified", 2, errno.EINVAL),
    ("e: sched.sched_switch", "Event name is not specified", 2, errno.EINVAL),
    # FETCH_INSN_MAX: an address, its load and 13 dereferences fill 15 slots
    ("p vfs_read " + "+0(" * 14 + "@0" + ")" * 14, "Dereference is too much nested", 14,
     errno.EINVAL),
    # MAX_ARGSTR_LEN: 63 characters after NAME=
    ("p vfs_read x=" + "+0(" * 20 + "%ax" + ")" * 20, "Argument expression is too long", 13,
     errno.E2BIG),
    ("p vfs_read x=\\" + "1" * 30 + "0" * 40, "Argument expression is too long", 13, errno.E2BIG),
    # kstrtoul's ERANGE is passed on
    ("p vfs_read x=@99999999999999999999", "Invalid memory address", 13, errno.ERANGE),
])
def test_kprobe_limits_answer_as_the_kernel(line: str, message: str, caret: int,
                                           err: int) -> None:
    with pytest.raises(ProbeError) as info:
        parse_probe(line, event_fields=fields)
    assert (info.value.errno, info.value.message, info.value.pos) == (err, message, caret)


def test_thirteen_dereferences_of_an_address_fit() -> None:
    line = "p vfs_read " + "+0(" * 13 + "@0" + ")" * 13
    assert len(parse_probe(line).args) == 1


def test_an_eprobe_attaches_to_system_slash_event_or_system_dot_event() -> None:
    for target in ("sched/sched_switch", "sched.sched_switch"):
        probe = parse_probe(f"e:x/y {target} p=$prev_pid", event_fields=fields)
        assert (probe.attached, probe.place) == ("sched:sched_switch", target)


@pytest.mark.parametrize(("line", "message", "caret"), [
    ("e x.", "This requires both group and event name to attach", 2),
    ("e sched", "This requires both group and event name to attach", 2),
    ("e .b", "Group name is not specified", 2),
    ("e a.b", "Attached event does not exist", 2),
    # traceprobe_parse_event_name checks the target's names before any lookup
    ("e :initcall.initcall_finish", "Group name must follow the same rules as C identifiers", 2),
    ("e sched.sched-switch", "Event name must follow the same rules as C identifiers", 8),
    # a field the event lacks: where the argument starts, name and all
    ("e:x/y sched/sched_switch arg=$foo", "Attached event does not have this field", 25),
    ("e:x/y sched/sched_switch a=+0($foo)", "Attached event does not have this field", 25),
])
def test_eprobe_targets_and_fields_are_refused_as_the_kernel_refuses_them(
        line: str, message: str, caret: int) -> None:
    with pytest.raises(ProbeError) as info:
        parse_probe(line, event_fields=fields)
    code = errno.ENODEV if message == "Attached event does not exist" else errno.EINVAL
    assert (info.value.errno, info.value.message, info.value.pos) == (code, message, caret)


def test_dynamic_events_removes_with_a_bang_too() -> None:
    """``create_dyn_event``: a ``!`` line removes the event named after its first colon."""
    assert parse_removal("!p:kprobes/x vfs_read", bang=True) == Removal(
        "kprobes", "x", ("vfs_read",))
    assert parse_removal("!s:lat u64 v", bang=True) == Removal(None, "lat", ("u64", "v"))
    assert parse_removal("!p:x vfs_read") is None  # kprobe_events: no removal, a bad definition
    for bad in ("-x", "-p:x", "!x"):
        with pytest.raises(ProbeError):
            parse_removal(bad, bang=True)


def test_an_eprobe_takes_a_filter_on_its_attached_event() -> None:
    """``trace_eprobe_parse_filter``: the words after ``if`` are a filter on the
    attached event's fields, listed back after the arguments."""
    probe = parse_probe("e:x/y sched/sched_switch p=$prev_pid if prev_pid > 1 && prev_pid < 9",
                        event_fields=fields)
    assert probe.filter == "prev_pid > 1 && prev_pid < 9" and [a.name for a in probe.args] == ["p"]
    assert probe.show() == ("e:x/y sched/sched_switch p=$prev_pid"
                            " if prev_pid > 1 && prev_pid < 9\n")
    with pytest.raises(ProbeError) as info:
        parse_probe("e:x/y sched/sched_switch if", event_fields=fields)
    assert (info.value.message, info.value.pos) == ("No filter rule after 'if'", 28)
    with pytest.raises(ProbeError) as info:
        parse_probe("e:x/y sched/sched_switch p=$prev_pid if nosuch == 1", event_fields=fields)
    assert (info.value.log_as, info.value.command) == ("event filter parse error", "nosuch == 1")
    assert info.value.message == "Field not found"
