"""The records that ``trace_marker_raw`` writes: ``ftrace:raw_data`` events.

A write to ``trace_marker_raw`` is a u32 id followed by bytes; the kernel
stores it behind the common fields as it came (``tracing_mark_raw_write``),
so the record is the header and the written bytes, rounded up to 4 bytes as
the ring buffer rounds every payload. The format and id are those of the
reference kernel (Linux 6.18, read from its tracefs).
"""

from __future__ import annotations

import struct

from ...kernel.ring_buffer_format import BUF_MAX_DATA_SIZE

RAW_DATA_ID = 19
RAW_DATA_FORMAT = (
    "name: raw_data\nID: 19\nformat:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:unsigned int id;\toffset:8;\tsize:4;\tsigned:0;\n"
    "\tfield:char buf[];\toffset:12;\tsize:0;\tsigned:0;\n"
    "\n"
    'print fmt: "id:%04x %08x", REC->id, (int)REC->buf[0]\n'
)
_HEADER = struct.Struct("<HBBi")
#: The longest write: the id and the data fill the largest payload a page takes.
RAW_MAX = BUF_MAX_DATA_SIZE - _HEADER.size


def encode_raw(data: bytes, *, pid: int, preempt_count: int = 0) -> bytes:
    """The ``ftrace:raw_data`` record of one write (``data`` starts with the id)."""
    record = _HEADER.pack(RAW_DATA_ID, 0, preempt_count, pid) + data
    return record.ljust(-(-len(record) // 4) * 4, b"\0")
