"""Kernel symbols for ``.sym`` keys: text symbols by address, sized by the next one."""

from __future__ import annotations

from tpfs.tracefs.events.symbols import KernelSymbols, host_symbols, host_syscalls, syscall_names

LINES = [
    "ffffffff81000000 T _text\n",
    "ffffffff81001000 t helper\n",
    "ffffffff81001000 T alias_of_helper\n",
    "ffffffff81002000 D some_data\n",
    "ffffffff81003000 T last [mod]\n",
    "0000000000000000 T hidden\n",
    "garbage\n",
]


def test_an_address_is_named_by_the_text_symbol_it_falls_in() -> None:
    syms = KernelSymbols.parse(LINES)
    assert syms.lookup(0xFFFFFFFF81001010) == ("helper", 0x10, 0x2000)  # data is no bound
    assert syms.name(0xFFFFFFFF81000000) == "_text"
    assert syms.name_offset(0xFFFFFFFF81001010) == "helper+0x10/0x2000"


def test_addresses_outside_the_table_have_no_name() -> None:
    syms = KernelSymbols.parse(LINES)
    assert syms.name(0xFFFFFFFF80FFFFFF) is None  # before the first
    assert syms.name(0xFFFFFFFF81003008) is None  # in the last: its size is unknown
    assert KernelSymbols().name(0x1000) is None
    assert "hidden" not in syms.names


def test_an_unreadable_kallsyms_gives_no_symbols(tmp_path) -> None:
    assert host_symbols(str(tmp_path / "missing")).addresses == []


def test_syscall_numbers_are_named_as_the_kernels_metadata_names_them(tmp_path) -> None:
    header = tmp_path / "unistd_64.h"
    header.write_text("#ifndef _ASM_UNISTD_64_H\n#define __NR_read 0\n#define __NR_write 1\n"
                      "#define __NR_syscalls 2\n#define __NR_x32 bad\n")
    assert syscall_names(header.read_text().splitlines()) == {
        0: "sys_read", 1: "sys_write", 2: "sys_syscalls"}
    assert host_syscalls([str(tmp_path / "missing"), str(header)])[1] == "sys_write"
    assert host_syscalls([str(tmp_path / "missing")]) == {}


def test_names_are_counted_over_every_type_and_module_as_a_kprobe_checks_them() -> None:
    syms = KernelSymbols.parse([*LINES, "ffffffff81004000 t helper\n",
                                "0000000000000000 t quiet [other]\n"])
    assert syms.same_symbols("helper") == 2  # two static functions of one name
    assert syms.same_symbols("some_data") == 1  # data counts, as kallsyms lists it
    assert syms.same_symbols("hidden") == 1  # a hidden address still has its name
    assert syms.same_symbols("nosuch") == 0
    assert syms.same_symbols("mod:last") == 1 and syms.same_symbols("mod:helper") == 0
    assert syms.same_symbols("other:quiet") == 1
    assert syms.same_symbols("unloaded:last") is None  # left to the module's load
    assert KernelSymbols().same_symbols("helper") is None  # nothing listed: taken
