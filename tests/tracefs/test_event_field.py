"""EventField reads back what record.Layout writes: every kind of field, one decoder."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tpfs.tracefs.events.filter import filter_fields
from tpfs.tracefs.trace.field import EventField, parse_fields
from tpfs.tracefs.trace.record import PRINT_FORMAT, encode_print, layout

FORMAT = (
    "name: sample\nID: 900\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:int delta;\toffset:8;\tsize:4;\tsigned:1;\n"
    "\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;\n"
    "\tfield:__data_loc char[] name;\toffset:28;\tsize:4;\tsigned:0;\n"
    "\tfield:__rel_loc char[] path;\toffset:32;\tsize:4;\tsigned:0;\n"
    "\tfield:u64 count;\toffset:40;\tsize:8;\tsigned:0;\n"
    "\n"
    'print fmt: "%d", REC->delta\n'
)

TEXT = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=40)


def by_name() -> dict[str, EventField]:
    return {f.name: f for f in parse_fields(FORMAT)}


def test_types_kinds_and_filter_types_as_the_kernel_keeps_them() -> None:
    f = by_name()
    assert (f["comm"].type, f["comm"].kind, f["comm"].filter_type) == (
        "char[16]", "array", "static_string")
    assert (f["name"].kind, f["name"].filter_type) == ("dynamic", "dyn_string")
    assert (f["path"].kind, f["path"].filter_type) == ("dynamic", "rdyn_string")
    assert (f["delta"].kind, f["delta"].signed) == ("scalar", True)
    generic = filter_fields(FORMAT)
    assert (generic["CPU"].filter_type, generic["COMM"].filter_type) == ("cpu", "comm")
    assert generic["delta"] is f["delta"]


@given(delta=st.integers(-(1 << 31), (1 << 31) - 1), count=st.integers(0, (1 << 64) - 1),
       comm=st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=15),
       name=TEXT, path=TEXT)
def test_every_kind_reads_back_what_was_encoded(delta: int, count: int, comm: str, name: str,
                                                 path: str) -> None:
    record = layout(FORMAT).encode({"delta": delta, "count": count, "comm": comm, "name": name,
                                    "path": path})
    f = by_name()
    assert f["delta"].read(record) == delta
    assert f["count"].read(record) == count
    assert f["comm"].text(record) == comm.encode()
    assert f["name"].text(record) == name.encode()
    assert f["name"].data(record) == name.encode() + b"\0"
    assert f["path"].text(record) == path.encode()
    assert f["path"].data(record) == path.encode() + b"\0"
    assert f["comm"].read(record) == comm.encode().ljust(16, b"\0")
    for fld in f.values():  # the per-event form finds the same bytes
        assert fld.spanner()(record) == fld.span(record)


@given(text=TEXT)
def test_a_tail_runs_to_the_record_end(text: str) -> None:
    """``char buf[]`` (size 0): a trace_marker record's text, from its offset on."""
    record = encode_print(text, ip=0x1234)
    f = {f.name: f for f in parse_fields(PRINT_FORMAT)}
    assert f["buf"].kind == "tail"
    assert f["ip"].read(record) == 0x1234
    assert f["buf"].text(record) == (text if text.endswith("\n") else text + "\n").encode()
    assert f["buf"].spanner()(record) == f["buf"].span(record)
