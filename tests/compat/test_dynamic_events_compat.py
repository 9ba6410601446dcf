"""Dynamic events on tpfs and on the kernel's own tracefs: the same checks on both.

This kernel has uprobes (``uprobe_events`` and ``dynamic_events``) but no
kprobes, eprobes or synthetic events, so only uprobes are compared here;
the rest are checked against the kernel's documentation and sources in
tests/tracefs/test_probes.py and tests/mounted/test_dynamic_events.py.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import struct
import subprocess
from pathlib import Path

import pytest
from compat.kernel import errno_of, kernel_tracefs, write
from compat.test_tracefs_compat import last_error

APPEND = os.O_WRONLY | os.O_APPEND
#: Every fetch and type a uprobe takes, as the kernel shows it back.
ALL_KINDS = ("p:tpfs_test/tpfs_all /bin/true:0x1000 a=%ax:u8 b=%ax:s16 c=%ax:x32 d=%ax:s64 "
             "e=+0(%ax):string g=%ax:char h=+0(%ax):ustring i=$stack2 j=@0x1000 "
             "k=%ax:b4@2/32 l=$comm m=+8(+0(%sp)):u16 %bx")


def no_id(text: str) -> str:
    return re.sub(r"(?m)^ID: \d+$", "ID: N", text)


def test_uprobe_listing_and_format(tracefs: Path) -> None:
    before = (tracefs / "uprobe_events").read_text()
    write(tracefs / "uprobe_events", ALL_KINDS + "\n", APPEND)
    try:
        line = ALL_KINDS.replace("/bin/true:0x1000", "/bin/true:0x0000000000001000")
        line = line.replace(" %bx", " arg13=%bx")
        assert (tracefs / "uprobe_events").read_text() == before + line + "\n"
        assert (tracefs / "dynamic_events").read_text().endswith(line + "\n")
        edir = tracefs / "events/tpfs_test/tpfs_all"
        # hist too on a kernel with hist triggers (tpfs has them; this one does not)
        assert sorted(set(os.listdir(edir)) - {"hist"}) == [
            "enable", "filter", "format", "id", "trigger"]
        fmt = (edir / "format").read_text()
        assert f"ID: {(edir / 'id').read_text().strip()}\n" in fmt
        assert no_id(fmt) == no_id(
            "name: tpfs_all\nID: 0\nformat:\n"
            "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
            "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
            "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
            "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n"
            "\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;\n"
            "\tfield:u8 a;\toffset:16;\tsize:1;\tsigned:0;\n"
            "\tfield:s16 b;\toffset:17;\tsize:2;\tsigned:1;\n"
            "\tfield:u32 c;\toffset:19;\tsize:4;\tsigned:0;\n"
            "\tfield:s64 d;\toffset:23;\tsize:8;\tsigned:1;\n"
            "\tfield:__data_loc char[] e;\toffset:31;\tsize:4;\tsigned:1;\n"
            "\tfield:u8 g;\toffset:35;\tsize:1;\tsigned:0;\n"
            "\tfield:__data_loc char[] h;\toffset:36;\tsize:4;\tsigned:1;\n"
            "\tfield:u64 i;\toffset:40;\tsize:8;\tsigned:0;\n"
            "\tfield:u64 j;\toffset:48;\tsize:8;\tsigned:0;\n"
            "\tfield:u32 k;\toffset:56;\tsize:4;\tsigned:0;\n"
            "\tfield:__data_loc char[] l;\toffset:60;\tsize:4;\tsigned:1;\n"
            "\tfield:u16 m;\toffset:64;\tsize:2;\tsigned:0;\n"
            "\tfield:u64 arg13;\toffset:66;\tsize:8;\tsigned:0;\n\n"
            'print fmt: "(%lx) a=%u b=%d c=0x%x d=%Ld e=\\"%s\\" g=\'%c\' h=\\"%s\\" i=0x%Lx '
            'j=0x%Lx k=%u l=\\"%s\\" m=%u arg13=0x%Lx", REC->__probe_ip, REC->a, REC->b, '
            "REC->c, REC->d, __get_str(e), REC->g, __get_str(h), REC->i, REC->j, REC->k, "
            "__get_str(l), REC->m, REC->arg13\n")
        assert "tpfs_test:tpfs_all\n" in (tracefs / "available_events").read_text()
    finally:
        write(tracefs / "uprobe_events", "-:tpfs_test/tpfs_all\n", APPEND)
    assert (tracefs / "uprobe_events").read_text() == before
    assert not (tracefs / "events/tpfs_test").exists()


def test_return_uprobe_and_default_names(tracefs: Path) -> None:
    events = tracefs / "uprobe_events"
    before = events.read_text()
    write(events, "r:tpfs_test/tpfs_ret /bin/true:0x1000 %ax\np /bin/true:0x2000\n", APPEND)
    try:
        assert events.read_text() == before + (
            "r:tpfs_test/tpfs_ret /bin/true:0x0000000000001000 arg1=%ax\n"
            "p:uprobes/p_true_0x2000 /bin/true:0x0000000000002000\n")
        fmt = (tracefs / "events/tpfs_test/tpfs_ret/format").read_text()
        assert ("\tfield:unsigned long __probe_func;\toffset:8;\tsize:8;\tsigned:0;\n"
                "\tfield:unsigned long __probe_ret_ip;\toffset:16;\tsize:8;\tsigned:0;\n"
                "\tfield:u64 arg1;\toffset:24;\tsize:8;\tsigned:0;\n") in fmt
        assert fmt.endswith('print fmt: "(%lx <- %lx) arg1=0x%Lx", REC->__probe_func, '
                            "REC->__probe_ret_ip, REC->arg1\n")
    finally:
        write(events, "-:tpfs_test/tpfs_ret\n-:p_true_0x2000\n", APPEND)
    assert events.read_text() == before


# (definition, errno, error_log message or None, caret column in the command)
BAD_UPROBES = [
    ("p:tpfs_bad /nonexistent:0x10", errno.ENOENT, "Failed to find the given file", 11),
    ("p:tpfs_bad /bin/true", errno.EINVAL, None, 0),
    ("p:tpfs_bad /bin/true:0x10 $retval", errno.EINVAL, "$retval is not available on probe", 26),
    ("p:tpfs_bad /bin/true:0x10 a=%zz", errno.EINVAL, "Invalid register name", 28),
    ("p:tpfs_bad /bin/true:0x10 a=%ax:u7", errno.EINVAL, "Unknown type is specified", 32),
    ("p:9bad /bin/true:0x10", errno.EINVAL,
     "Event name must follow the same rules as C identifiers", 2),
    ("p:tpfs_bad /bin/true:0x10 a=%ax a=%bx", errno.EINVAL,
     "This argument name is already used", 32),
    ("x:tpfs_bad /bin/true:0x10", errno.EINVAL, None, 0),
    ("p:tpfs_bad /bin/true:0x10 $arg1", errno.EINVAL,
     "$arg* can be used only on function entry or exit", 26),
    ("p:tpfs_bad /bin/true:0x10 a=%ax:symbol", errno.EINVAL, "Unknown type is specified", 32),
    ("p:tpfs_bad /bin/true:0x10 a=%ax:string", errno.EINVAL,
     "String accepts only memory argument", 32),
    ("p:tpfs_bad /bin/true:0x10 a=+0%ax", errno.EINVAL, "Dereference needs a brace", 28),
    ("p:tpfs_bad /bin/true:0x10 a=$comm:u32", errno.EINVAL,
     "$comm and immediate-string only accepts string type", 34),
    ('p:tpfs_bad /bin/true:0x10 a=\\"abc":u8', errno.EINVAL,
     "$comm and immediate-string only accepts string type", 35),
]


@pytest.mark.parametrize(("line", "err", "message", "caret"), BAD_UPROBES)
def test_bad_uprobes_are_refused_as_the_kernel_refuses_them(
        tracefs: Path, line: str, err: int, message: str | None, caret: int) -> None:
    events = tracefs / "uprobe_events"
    before = events.read_text()
    write(tracefs / "error_log", "", os.O_WRONLY | os.O_TRUNC)
    assert errno_of(write, events, line + "\n", APPEND) == err
    assert events.read_text() == before
    log = (tracefs / "error_log").read_text()
    if message is None:
        assert log == ""
    else:
        assert last_error(tracefs) == (f"trace_uprobe: error: {message}\n  Command: {line}\n"
                                       f"{' ' * (11 + caret)}^\n")


@pytest.mark.parametrize(("line", "err", "message", "caret"),
                         [b for b in BAD_UPROBES if b[2] is not None][:4] + [
                             ("p: /bin/true:0x10", errno.EINVAL, "Event name is not specified",
                              2)])
def test_a_uprobe_refused_in_dynamic_events_is_logged_as_a_uprobe(
        tracefs: Path, line: str, err: int, message: str, caret: int) -> None:
    """Each kind logs its own refusals, whichever file took the line: the
    kinds are offered it in turn and the uprobe's claims it."""
    events = tracefs / "dynamic_events"
    before = events.read_text()
    write(tracefs / "error_log", "", os.O_WRONLY | os.O_TRUNC)
    assert errno_of(write, events, line + "\n", APPEND) == err
    assert events.read_text() == before
    assert last_error(tracefs) == (f"trace_uprobe: error: {message}\n  Command: {line}\n"
                                   f"{' ' * (11 + caret)}^\n")


def test_enabled_uprobe_cannot_be_removed(tracefs: Path) -> None:
    events = tracefs / "uprobe_events"
    before = events.read_text()
    write(events, "p:tpfs_test/tpfs_busy /bin/true:0x1000\n", APPEND)
    enable = tracefs / "events/tpfs_test/tpfs_busy/enable"
    write(enable, "1\n")
    try:
        assert errno_of(write, events, "-:tpfs_test/tpfs_busy\n", APPEND) == errno.EBUSY
        assert errno_of(write, tracefs / "dynamic_events", "-:tpfs_busy\n", APPEND) == errno.EBUSY
        if not before:  # O_TRUNC removes every uprobe, or (one enabled) none
            assert errno_of(write, events, "", os.O_WRONLY | os.O_TRUNC) == errno.EBUSY
        assert events.read_text().endswith("tpfs_busy /bin/true:0x0000000000001000\n")
    finally:
        write(enable, "0\n")
    write(tracefs / "dynamic_events", "-:tpfs_test/tpfs_busy\n", APPEND)
    assert events.read_text() == before
    assert errno_of(write, events, "-:tpfs_test/tpfs_busy\n", APPEND) == errno.ENOENT


def entry_offset(path: str) -> int:
    """The file offset of an ELF64 executable's entry point, where every run passes."""
    with open(path, "rb") as elf:
        head = elf.read(64)
        assert head[:5] == b"\x7fELF\x02"
        entry, phoff = struct.unpack_from("<QQ", head, 24)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        elf.seek(phoff)
        table = elf.read(phentsize * phnum)
    for i in range(phnum):
        kind, _, offset, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", table, i * phentsize)
        if kind == 1 and vaddr <= entry < vaddr + filesz:  # PT_LOAD
            return entry - vaddr + offset
    raise AssertionError(f"{path}'s entry point is in no loaded segment")


def test_uprobe_profile_counts_hits_while_enabled(tracefs: Path) -> None:
    """``uprobe_profile``: each uprobe with its file and its hits, which count only
    while the event is enabled (the probe is registered only then). The kernel's
    hits are runs of /bin/true; tpfs's are writes to its ``fire`` file."""
    profile = tracefs / "uprobe_profile"
    assert stat.S_IMODE(os.stat(profile).st_mode) == 0o440
    before = profile.read_text()
    offset = entry_offset("/bin/true")
    write(tracefs / "uprobe_events", f"p:tpfs_test/tpfs_hit /bin/true:{offset:#x}\n", APPEND)

    def run() -> None:
        if (tracefs / "fire").exists():
            write(tracefs / "fire", "tpfs_test:tpfs_hit\n")
        else:
            subprocess.run(["/bin/true"], check=True)

    def line(hits: int) -> str:
        return f"  /bin/true {'tpfs_hit':<44} {hits:15d}\n"

    enable = tracefs / "events/tpfs_test/tpfs_hit/enable"
    try:
        run()
        assert profile.read_text() == before + line(0)
        write(enable, "1")
        run()
        run()
        write(enable, "0")
        run()
        assert profile.read_text() == before + line(2)
    finally:
        write(enable, "0")
        write(tracefs / "uprobe_events", "-:tpfs_test/tpfs_hit\n", APPEND)
    assert profile.read_text() == before


def test_a_second_place_is_appended_to_the_event(tracefs: Path) -> None:
    events = tracefs / "uprobe_events"
    before = events.read_text()
    write(events, "p:tpfs_test/tpfs_two /bin/true:0x1000 x=%ax\n", APPEND)
    try:
        write(events, "p:tpfs_test/tpfs_two /bin/true:0x2000 x=%ax\n", APPEND)
        assert events.read_text() == before + (
            "p:tpfs_test/tpfs_two /bin/true:0x0000000000001000 x=%ax\n"
            "p:tpfs_test/tpfs_two /bin/true:0x0000000000002000 x=%ax\n")
        assert errno_of(write, events, "p:tpfs_test/tpfs_two /bin/true:0x3000 y=%ax\n",
                        APPEND) == errno.EEXIST
        assert "Argument type or name is different" in last_error(tracefs)
    finally:
        write(events, "-:tpfs_test/tpfs_two\n", APPEND)
    assert events.read_text() == before


#: Definitions, good and bad, that tpfs and the kernel must answer alike: the
#: errno, the error_log entry, the listing and the event's format.
DEFINITIONS = [
    'p /bin/true:0x10',
    'p:g/e /bin/true:0x10',
    'p:e /bin/true:0x10 %ax %bx %cx',
    'p:e /bin/true:0x10 x=%ax:x8 y=%ip:s32',
    'p:e /bin/true:0x10 $stack $stack0 $stack99',
    'p:e /bin/true:0x10 $stack1025',
    'p:e /bin/true:0x10 @0x1000:u32 @+0x20:s8',
    'p:e /bin/true:0x10 @foo',
    'p:e /bin/true:0x10 +0(+8(%sp)):string',
    'p:e /bin/true:0x10 -8(%sp)',
    'p:e /bin/true:0x10 +0x10(%ax):u64',
    'p:e /bin/true:0x10 +zz(%ax)',
    'p:e /bin/true:0x10 +0(%zz)',
    'p:e /bin/true:0x10 \\1234',
    'p:e /bin/true:0x10 \\-1:s32',
    'p:e /bin/true:0x10 \\"hello"',
    'p:e /bin/true:0x10 $comm $COMM',
    'p:e /bin/true:0x10 x=$comm:string y=$COMM',
    'p:e /bin/true:0x10 x=%ax:b3@5/8',
    'p:e /bin/true:0x10 x=%ax:b9@0/8',
    'p:e /bin/true:0x10 x=%ax:u32[4]',
    'p:e /bin/true:0x10 x=+0(%ax):u8[3]',
    'p:e /bin/true:0x10 1x=%ax',
    'p:e /bin/true:0x10 =%ax',
    'p:e /bin/true:0x10 x=',
    'p:e /bin/true:0x10%return',
    'r:e /bin/true:0x10 $retval',
    'r:e /bin/true:0x10%return $retval',
    'p:e /bin/true:0x10(0x20)',
    'p:e /bin/true:0x10(zz)',
    'p:e /bin/true:zz',
    'p:e /bin/true:',
    'p:e bin/true:0x10',
    'p:e /nonexistent/x:0x10',
    f"p:{'g' * 64}/e /bin/true:0x10",
    f"p:g/{'e' * 64} /bin/true:0x10",
    'p:9g/e /bin/true:0x10',
    'p:/e /bin/true:0x10',
    'p:g/ /bin/true:0x10',
    'r2:e /bin/true:0x10',
    'p:e /bin/true:0x10 x=%ax x=%bx',
    'p:e /bin/true:0x10 $arg1',
    'p:e /bin/true:0x10 $retval',
    'p:e /bin/true:0x10 $foo',
    'p:e /bin/true:0x10 +0($comm)',
    'p:e /bin/true:0x10 x=%ax:symbol',
    'p:e /bin/true:0x10 x=%ax:ustring',
    'p:e /bin/true:0x10 x=+0(%ax):ustring',
    'p:e /bin/true:0x10 x=%ax:char',
    'p:e /bin/true:0x10 x=+0(%ax):u8[3] y=+0(%ax):x16[2] z=+0(%ax):string[2] w=+0(%ax):s32[1]',
    'p:e /bin/true:0x10 x=+0(%ax):u8[65]',
    'p:e /bin/true:0x10 x=+0(%ax):u8[0]',
    'p:e /bin/true:0x10 x=+0(%ax):u8[2',
    'p:e /bin/true:0x10 x=+0(%ax):u8[2]x',
    'p:e /bin/true:0x10 x=@0x10:u16[4]',
    'p2:e /bin/true:0x10',
    'r:e /bin/true:0x10 x=$comm',
    'p:e /bin/true:0x10 x=\\\\"a b"',
    'p:e /bin/true:0x10 x=+0(\\\\1234)',
    'p:e /bin/true:0x10 x=+0(@0x10):string',
    'p:e /bin/true:0x10 %ax %ax',
    'p:e /bin/true:0x10 arg1=%ax %bx',
    'p:e /sys:100',
    'p:e /tmp:0x10',
    'p:e /bin/true:10a',
    'p:e /bin/true:10(10',
    'p:e /bin/true:10(10)a',
    'p:e /bin/true:10%foo',
    'p:e /bin/true:10(16)%return',
    'p: /bin/true:0x10',
    'p:e /bin/true:0xfffffffffffffde0',
    'p:e /bin/true:0x10 arg1=\\"abcd',
    'p:e /bin/true:0x10 +0(+0(@0)',
    'p:e /bin/true:0x10 +0(%ax)junk',
    'p:e /bin/true:0x10 +0(%ax',
    'p:e /bin/true:0x10 ' + '+0(' * 13 + '@0' + ')' * 13,
    'p:e /bin/true:0x10 ' + '+0(' * 14 + '@0' + ')' * 14,
    'p:e /bin/true:0x10 ' + '+0(' * 13 + '%ax' + ')' * 13,
    'p:e /bin/true:0x10 ' + '+0(' * 14 + '%ax' + ')' * 14,
    'p:e /bin/true:0x10 ' + '+0(' * 15 + '%ax' + ')' * 15,
    'p:e /bin/true:0x10 x=' + '+0(' * 12 + '@0' + ')' * 12 + ':u8[2]',
    'p:e /bin/true:0x10 x=' + '+0(' * 13 + '@0' + ')' * 13 + ':string',
    'p:e /bin/true:0x10 x=' + '+0(' * 13 + '%ax' + ')' * 13 + ':b2@0/8',
    'p:e /bin/true:0x10 x=@0:string',
    'p:e /bin/true:0x10 ' + 'a' * 33 + '=%ax',
    'p:e /bin/true:0x10 x=' + '+0(' * 20 + '%ax' + ')' * 20,
    'p:e /bin/true:0x10 ' + '+0(' * 20 + '%ax' + ')' * 20,
    'p:e /bin/true:0x10 x=\\' + '1' * 62,
    'p:e /bin/true:0x10 x=\\' + '1' * 63,
    'p:e /bin/true:0x10 x=' + '+0(' * 13 + '@0' + ')' * 13 + ':u8[2]',
    'p:e /bin/true:0x10 x=' + '+0(' * 14 + '%ax' + ')' * 14 + ':b2@0/8',
    'p:e /bin/true:0x10 x=' + '+0(' * 14 + '%ax' + ')' * 14 + ':string',
    'p:e /bin/true:0x10 x=+u0(+u8(%ax)):u32 y=+u0(%ax',
    'p:e /bin/true:0x10 x=@99999999999999999999',
    'p:e /bin/true:0x10 x=@+99999999999999999999',
    'p:e /bin/true:0x10 x=@+9223372036854775808',
    'p:e /bin/true:0x10 x=+9223372036854775808(%ax)',
    'p:e /bin/true:0x10 x=-9223372036854775808(%ax)',
    'p:e /bin/true:0x10 x=\\-9223372036854775809',
    'p:e /bin/true:0x10 x=\\+9223372036854775807',
    'p:e /bin/true:0x10 x=\\x1',
    'p:e /bin/true:99999999999999999999',
    'p:e /bin/true:0x10(99999999999999999999)',
]


def define(root: Path, line: str) -> tuple[str, str, str, str]:
    write(root / "error_log", "")
    try:
        write(root / "uprobe_events", line + "\n", APPEND)
        result = "ok"
    except OSError as exc:
        result = f"errno {exc.errno}"
    log = re.sub(r"(?m)^\[[^\]]*\] ", "", (root / "error_log").read_text())
    listing = (root / "uprobe_events").read_text()
    fmt = ""
    if result == "ok":
        group, event = re.match(r"[pr]:(\w+)/(\w+)", listing.splitlines()[-1]).groups()
        fmt = no_id((root / "events" / group / event / "format").read_text())
    write(root / "uprobe_events", "", os.O_WRONLY | os.O_TRUNC)
    return result, log, listing, fmt


def test_definitions_are_answered_as_the_kernel_answers_them(tpfs, tmp_path: Path) -> None:
    """Each of ``DEFINITIONS`` on the kernel's tracefs and on tpfs, side by side."""
    with kernel_tracefs(tmp_path) as kernel:
        assert (kernel / "uprobe_events").read_text() == ""  # O_TRUNC below clears all
        for line in DEFINITIONS:
            assert define(tpfs.path, line) == define(kernel, line), line


#: (file, line) written in turn: appending places, removals by name, group,
#: place and arguments, comments and blanks, names in use (the kernel here has
#: no synthetic events or eprobes, which tpfs also takes in dynamic_events).
SEQUENCE = [
    ('dynamic_events', 'p:g/a /bin/true:0x10 x=%ax'),
    ('dynamic_events', 'p:g/a /bin/true:0x20 x=%ax'),
    ('dynamic_events', 'p:g/a /bin/true:0x20 x=%ax'),
    ('dynamic_events', 'r:g/a /bin/true:0x30 x=%ax'),
    ('dynamic_events', 'p:g/a /bin/true:0x30 y=%ax'),
    ('dynamic_events', 'p:g/a /bin/true:0x30 x=%bx:u32'),
    ('dynamic_events', 'p:h/a /bin/true:0x10'),
    ('dynamic_events', '-:a'),
    ('dynamic_events', '-:h/a'),
    ('dynamic_events', '-:zz/a'),
    ('dynamic_events', '-:g/a x=%ax'),
    ('dynamic_events', 'p:g/b /bin/true:0x10'),
    ('uprobe_events', '-:g/b'),
    ('uprobe_events', '-:b'),
    ('dynamic_events', '-:'),
    ('dynamic_events', '-:g/'),
    ('dynamic_events', 'p:g/c /bin/true:0x10'),
    ('dynamic_events', 'p:g/d /bin/true:0x20'),
    ('dynamic_events', '-:g/c extra'),
    ('dynamic_events', '-:*'),
    ('dynamic_events', '  p:g/e   /bin/true:0x10    x=%ax   '),
    ('dynamic_events', 'p:g/f /bin/true:0x10 # comment'),
    ('dynamic_events', '#only comment'),
    ('dynamic_events', 't:g/tp sched_switch'),
    ('dynamic_events', 'f:g/fp vfs_read'),
    ('dynamic_events', 'p:g/sched_switch /bin/true:0x10'),
    ('dynamic_events', 'p:sched/sched_switch /bin/true:0x10'),
    ('dynamic_events', 'p:g/h /bin/true:0x10 x=%ax'),
    ('dynamic_events', 'p:g/h /bin/true:0x20 x=%ax'),
    ('uprobe_events', '!p:g/h /bin/true:0x10 x=%ax'),
    ('dynamic_events', '!p:g/h /bin/true:0x10 x=%ax'),
    ('dynamic_events', '!anything:h'),
    ('dynamic_events', '!h'),
    ('dynamic_events', '-h'),
    ('dynamic_events', '-p:g/h'),
    ('uprobe_events', '-g/h'),
]


def test_a_sequence_of_writes_leaves_what_the_kernel_leaves(tpfs, tmp_path: Path) -> None:
    def step(root: Path, file: str, line: str) -> tuple[str, str, str]:
        write(root / "error_log", "")
        try:
            write(root / file, line + "\n", APPEND)
            result = "ok"
        except OSError as exc:
            result = f"errno {exc.errno}"
        log = re.sub(r"(?m)^\[[^\]]*\] ", "", (root / "error_log").read_text())
        return result, log, (root / "dynamic_events").read_text()

    with kernel_tracefs(tmp_path) as kernel:
        assert (kernel / "dynamic_events").read_text() == ""
        try:
            for file, line in SEQUENCE:
                assert step(tpfs.path, file, line) == step(kernel, file, line), (file, line)
        finally:
            write(kernel / "dynamic_events", "", os.O_WRONLY | os.O_TRUNC)
