"""The ring buffer's binary format: ``buffer_data_page`` and ``ring_buffer_event``.

This is what ``events/header_page`` and ``events/header_event`` describe, as
an x86-64 kernel lays it out (4 KiB pages, an 8-byte ``local_t``, little
endian, 4-byte alignment: no ``CONFIG_HAVE_64BIT_ALIGNED_ACCESS``). The ring
buffer (``ring_buffer.py``) stores events in exactly this form, and
``trace_pipe_raw`` hands the pages out as they are.

A page (``buffer_data_page``) is ``PAGE_SIZE`` bytes: a u64 time stamp (the
time of its first event), a u64 ``commit`` (the bytes of event data, with
the flags ``RB_MISSED_EVENTS`` and ``RB_MISSED_STORED`` in bits 31 and 30
when the reader lost events before the page), then ``BUF_PAGE_SIZE`` bytes
of records from offset ``BUF_PAGE_HDR_SIZE``.

A record (``ring_buffer_event``) starts with a u32 header: ``type_len`` in
the low 5 bits, ``time_delta`` (nanoseconds since the previous record on the
page, or since the page's time stamp for the first) in the high 27 bits.
``type_len`` 1..28 is a data record whose payload takes ``4 * type_len``
bytes; 0 is a data record whose length follows as a u32 (``array[0]``: the
payload's bytes plus 4) before the payload; 29 is padding, 30 a time extend
(the delta does not fit 27 bits: ``array[0]`` holds the bits above them and
the data record after it has delta 0), 31 an absolute time stamp (only for
buffers in absolute-time mode, which this model does not have).

Lengths follow ``rb_calculate_event_length``: a payload of 0 bytes counts as
1, payloads up to ``RB_MAX_SMALL_DATA`` (112) bytes keep their length in
``type_len``, longer ones get the u32 length word, and the record is rounded
up to ``RB_ALIGNMENT``. A 12-byte record is made 16 (so that a discarded
event can always become padding plus a time extend), which is why a payload
of 5 to 8 bytes is stored with ``type_len`` 3. The slack after a payload is
zero here; the kernel leaves whatever the page held before.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PAGE_SIZE = 4096
#: ``offsetof(struct buffer_data_page, data)``: the time stamp and ``commit``.
BUF_PAGE_HDR_SIZE = 16
#: Bytes of records a page holds (``subbuf_size``).
BUF_PAGE_SIZE = PAGE_SIZE - BUF_PAGE_HDR_SIZE
RB_EVNT_HDR_SIZE = 4
RB_ALIGNMENT = 4
#: The smallest record: a header and one u32.
RB_EVNT_MIN_SIZE = 8
RINGBUF_TYPE_DATA_TYPE_LEN_MAX = 28
RINGBUF_TYPE_PADDING = 29
RINGBUF_TYPE_TIME_EXTEND = 30
RB_MAX_SMALL_DATA = RB_ALIGNMENT * RINGBUF_TYPE_DATA_TYPE_LEN_MAX
RB_LEN_TIME_EXTEND = 8
#: The largest payload one event may carry (``BUF_MAX_DATA_SIZE``).
BUF_MAX_DATA_SIZE = BUF_PAGE_SIZE - 2 * 4
TS_SHIFT = 27
#: The largest delta a record header holds; longer ones need a time extend.
TS_MASK = (1 << TS_SHIFT) - 1
#: Deltas a time extend can hold are below this (27 + 32 bits).
TS_EXTEND_LIMIT = 1 << (TS_SHIFT + 32)
RB_MISSED_EVENTS = 1 << 31
RB_MISSED_STORED = 1 << 30

_U32 = struct.Struct("<I")
_U32_PAIR = struct.Struct("<II")
_U64 = struct.Struct("<Q")
_PAGE_HEADER = struct.Struct("<QQ")


def rb_calculate_event_length(length: int) -> int:
    """The bytes a data record with a ``length``-byte payload takes on a page."""
    length = max(length, 1)
    if length > RB_MAX_SMALL_DATA:
        length += 4
    length += RB_EVNT_HDR_SIZE
    length = -(-length // RB_ALIGNMENT) * RB_ALIGNMENT
    if length == RB_LEN_TIME_EXTEND + RB_ALIGNMENT:
        length += RB_ALIGNMENT
    return length


def data_event(length: int, delta: int, payload: bytes) -> bytes:
    """A data record of ``length`` bytes (``rb_update_event``) holding ``payload``.

    ``delta`` must fit the header's 27 bits.
    """
    body = length - RB_EVNT_HDR_SIZE
    if body > RB_MAX_SMALL_DATA:
        head = _U32_PAIR.pack(delta << 5, body)
        room = body - 4
    else:
        head = _U32.pack(body // RB_ALIGNMENT | delta << 5)
        room = body
    return head + payload + bytes(room - len(payload))


def time_extend(delta: int) -> bytes:
    """A time extend record carrying ``delta`` (below ``TS_EXTEND_LIMIT``)."""
    return _U32_PAIR.pack(RINGBUF_TYPE_TIME_EXTEND | (delta & TS_MASK) << 5, delta >> TS_SHIFT)


def padding(size: int) -> bytes:
    """The discarded event ``rb_reset_tail`` puts over the last ``size`` bytes of a page.

    Its ``time_delta`` is 1 (a null delta would mark the end of data) and
    ``array[0]`` the bytes after the header; ``size`` is at least
    ``RB_EVNT_MIN_SIZE``.
    """
    return (_U32_PAIR.pack(RINGBUF_TYPE_PADDING | 1 << 5, size - RB_EVNT_HDR_SIZE)
            + bytes(size - RB_EVNT_MIN_SIZE))


@dataclass(frozen=True, slots=True)
class Record:
    """One record read back from a page.

    ``delta`` is the header's ``time_delta``, or for a time extend the whole
    delta it carries; ``length`` the bytes the record takes; ``payload`` the
    stored payload of a data record (its length rounded up as stored, slack
    included) and empty for the others.
    """

    type_len: int
    delta: int
    length: int
    payload: bytes = b""


def read_record(data: bytes | bytearray, offset: int) -> Record:
    """The record at ``offset`` in a page's data (``rb_event_length``, ``rb_event_data``)."""
    (word,) = _U32.unpack_from(data, offset)
    type_len, delta = word & 31, word >> 5
    if type_len == RINGBUF_TYPE_PADDING:
        (array0,) = _U32.unpack_from(data, offset + 4)
        return Record(type_len, delta, array0 + RB_EVNT_HDR_SIZE)
    if type_len == RINGBUF_TYPE_TIME_EXTEND:
        (array0,) = _U32.unpack_from(data, offset + 4)
        return Record(type_len, array0 << TS_SHIFT | delta, RB_LEN_TIME_EXTEND)
    if type_len:
        start, end = offset + 4, offset + 4 + type_len * RB_ALIGNMENT
    else:
        (array0,) = _U32.unpack_from(data, offset + 4)
        start, end = offset + 8, offset + 4 + array0
    return Record(type_len, delta, end - offset, bytes(data[start:end]))


def subbuffer(time_stamp: int, data: bytes, missed: int) -> bytes:
    """A whole page as ``ring_buffer_read_page`` hands it to ``trace_pipe_raw``.

    ``commit`` is the length of ``data``. When ``missed`` events were lost
    before the page, bit 31 of ``commit`` says so, and when the page has room
    for a u64 after the data the count goes there and bit 30 says that too.
    The rest of the page is zero.
    """
    commit = len(data)
    count = b""
    if missed:
        if BUF_PAGE_SIZE - commit >= _U64.size:
            count = _U64.pack(missed)
            commit |= RB_MISSED_STORED
        commit |= RB_MISSED_EVENTS
    page = _PAGE_HEADER.pack(time_stamp, commit) + data + count
    return page + bytes(PAGE_SIZE - len(page))
