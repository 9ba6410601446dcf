"""Every format tpfs serves parses with libtraceevent, the parser of perf, trace-cmd and bpftrace.

libtraceevent (Debian ``libtraceevent1``) is loaded through ctypes. A format
it cannot read makes it mark the event failed (``TEP_EVENT_FL_FAILED``),
which perf and bpftrace then refuse. The catalogue's texts are the kernel's
own, and libtraceevent cannot read the print fmt of a few of them (as with
the kernel's own files); those may fail only where tpfs serves the kernel's
text unchanged. Every format tpfs writes itself must parse cleanly.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import pytest

from tpfs.kernel.registry import Registry
from tpfs.tracefs.events.catalog import load_embedded
from tpfs.tracefs.tree import Tree
from tpfs.tracefs.vfs.nodes import File, Opener

TEP_EVENT_FL_FAILED = 0x80000000


class TepEvent(ctypes.Structure):
    """The head of ``struct tep_event`` (event-parse.h) and of its ``struct tep_format``."""

    _fields_ = [("tep", ctypes.c_void_p), ("name", ctypes.c_char_p), ("id", ctypes.c_int),
                ("flags", ctypes.c_uint), ("nr_common", ctypes.c_int), ("nr_fields", ctypes.c_int)]


@pytest.fixture(scope="module")
def tep() -> ctypes.CDLL:
    name = ctypes.util.find_library("traceevent") or "libtraceevent.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        pytest.skip("libtraceevent is not installed (Debian: libtraceevent1)")
    lib.tep_alloc.restype = ctypes.c_void_p
    lib.tep_free.argtypes = [ctypes.c_void_p]
    lib.tep_parse_event.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong,
                                    ctypes.c_char_p]
    lib.tep_find_event_by_name.restype = ctypes.POINTER(TepEvent)
    lib.tep_find_event_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
    return lib


def read(t: Tree, *path: str) -> str:
    node = t.resolve(path)
    assert isinstance(node, File)
    return node.open(Opener(os.O_RDONLY)).read(0, 1 << 20).decode()


def test_every_served_format_parses(tep: ctypes.CDLL) -> None:
    catalog = load_embedded()
    reg = Registry([e.name for e in catalog.events], seed=1)
    t = Tree(reg, catalog)
    reg.module_coming("m", ["mysub:ev", "mysub:other", "sched:sched_switch"])
    kernel_texts = {e.name: e.format for e in catalog.events}
    handle = tep.tep_alloc()
    failed = []
    try:
        for subsys, events in t.events.subsystems().items():
            for event in events:
                fmt = read(t, "events", subsys, event, "format")
                data = fmt.encode()
                assert tep.tep_parse_event(handle, data, len(data), subsys.encode()) == 0, fmt
                found = tep.tep_find_event_by_name(handle, subsys.encode(), event.encode())
                assert found, fmt
                ev = found.contents
                assert ev.id == int(read(t, "events", subsys, event, "id")), fmt
                own = fmt.split("\n\n", 1)[1].count("\tfield:")
                assert (ev.nr_common, ev.nr_fields) == (4, own), fmt
                if ev.flags & TEP_EVENT_FL_FAILED:
                    assert fmt == kernel_texts.get(f"{subsys}:{event}"), fmt
                    failed.append(f"{subsys}:{event}")
    finally:
        tep.tep_free(handle)
    assert "mysub:ev" not in failed
    assert len(failed) < 30, failed  # libtraceevent's own gaps with the kernel's texts
