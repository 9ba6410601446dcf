"""Who made a read request, and whether the kernel interrupted it: what pyfuse3 does not say.

pyfuse3 hands ``read`` neither a ``RequestContext`` nor the FUSE_INTERRUPT
the kernel sends when the reading task gets a signal. Both are in libfuse's
request (``fuse_req_t``): ``fuse_req_ctx`` gives the pid of the task that
made the request (the thread that reads, not the one that opened the file:
``exec 3< trace_pipe; cat <&3`` reads as ``cat``), and libfuse itself
records the interrupt on the request and calls the function registered with
``fuse_req_interrupt_func``, on the daemon's thread, as it reads the
interrupt from the FUSE device.

Design note: why reach past pyfuse3. A waiting read could instead look at
/proc for signals, but then it must know the reading task, which only the
request names, and it must look again and again while it waits: every tick
of every waiting read costs the daemon's one thread, and a waiting read
should cost nothing. With the request, a signal ends the wait the moment
the kernel reports it, as the kernel's own ``trace_pipe`` wait ends on
``signal_pending``; a fatal signal (SIGKILL) would otherwise leave the reader
in D state, since the kernel waits for the answer of a request already sent.

pyfuse3 keeps the request in a ``_Container`` object that its
``fuse_read_async`` coroutine holds. While the handler's task is parked, its
coroutine chain can be walked (``cr_await``) down to that coroutine, whose
frame holds the container; the request pointer is found next to the read's
own offset and size, which are known, so a layout that differs (another
pyfuse3) is recognised and nothing is read through a pointer that was not
so found. When the request cannot be found, ``find`` returns None and the
caller falls back on polling /proc for the opener's signals, as before.
Nothing here holds a request past the handler that found it: ``release``
unregisters the interrupt function before the handler returns, and pyfuse3
answers (and libfuse frees) the request only after that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import itertools
import logging
import struct
from collections.abc import Callable
from typing import Any

import trio

log = logging.getLogger(__name__)


class _FuseCtx(ctypes.Structure):
    """libfuse's ``struct fuse_ctx``."""

    _fields_ = [("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32), ("pid", ctypes.c_int32),
                ("umask", ctypes.c_uint32)]


_INTERRUPT_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


def _load_libfuse() -> ctypes.CDLL | None:
    """The libfuse pyfuse3 is linked with (already loaded: the same handle)."""
    for name in ("libfuse3.so.3", ctypes.util.find_library("fuse3")):
        if name is None:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.fuse_req_ctx.restype = ctypes.POINTER(_FuseCtx)
        lib.fuse_req_ctx.argtypes = [ctypes.c_void_p]
        lib.fuse_req_interrupt_func.restype = None
        lib.fuse_req_interrupt_func.argtypes = [ctypes.c_void_p, _INTERRUPT_FUNC,
                                                ctypes.c_void_p]
        return lib
    return None


_LIBFUSE = _load_libfuse()
#: The requests waiting to be told of an interrupt, by the key libfuse hands back.
_LISTENING: dict[int, Request] = {}
_KEYS = itertools.count(1)


def _on_interrupt(req: int | None, data: int | None) -> None:
    """libfuse read a FUSE_INTERRUPT for a request we listen on (daemon's thread)."""
    request = _LISTENING.get(data or 0)
    if request is not None:
        request.interrupted = True
        request.wake()


#: One C callback for all requests, alive as long as the module.
_CALLBACK = _INTERRUPT_FUNC(_on_interrupt)
_NO_CALLBACK = _INTERRUPT_FUNC()


class Request:
    """A read request found in pyfuse3: its caller, and its interrupt once told."""

    __slots__ = ("pid", "interrupted", "wake", "_req", "_key")

    def __init__(self, req: int, pid: int) -> None:
        self.pid = pid
        self.interrupted = False
        self.wake: Callable[[], None] = lambda: None
        self._req = req
        self._key = 0

    def listen(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` (and set ``interrupted``) when the kernel interrupts the
        request; at once if it already has."""
        assert _LIBFUSE is not None
        self.wake = wake
        self._key = next(_KEYS)
        _LISTENING[self._key] = self
        _LIBFUSE.fuse_req_interrupt_func(self._req, _CALLBACK, self._key)

    def release(self) -> None:
        """Stop listening; called before the handler returns (the request is still
        unanswered, so still alive in libfuse)."""
        if self._key:
            assert _LIBFUSE is not None
            _LIBFUSE.fuse_req_interrupt_func(self._req, _NO_CALLBACK, None)
            del _LISTENING[self._key]
            self._key = 0


def _awaited(coro: Any) -> Any:
    """What a parked coroutine (Python's or Cython's) is waiting on."""
    inner = getattr(coro, "cr_await", None)
    if inner is None and type(coro).__name__ == "coroutine_wrapper":
        # Cython's ``__await__`` iterator: it refers to its coroutine only.
        refs = gc.get_referents(coro)
        inner = refs[0] if len(refs) == 1 else None
    return inner


def _container(task: trio.lowlevel.Task) -> Any:
    """pyfuse3's ``_Container`` of the read the parked ``task`` serves, or None."""
    coro: Any = task.coro
    for _ in range(16):  # the chain is a handful deep; never loop for ever
        if coro is None:
            return None
        if getattr(coro, "__name__", None) == "fuse_read_async":
            for scope in gc.get_referents(coro):
                for value in gc.get_referents(scope):
                    if (type(value).__name__ == "_Container"
                            and type(value).__module__.partition(".")[0] == "pyfuse3"):
                        return value
            return None
        coro = _awaited(coro)
    return None


def _request_pointer(container: Any, fh: int, off: int, size: int) -> int | None:
    """The ``fuse_req_t`` in ``container``: its fields end ``req, flags, mode, off,
    size, stat, fh``, so it lies 16 bytes before the one place where the read's
    offset and size stand side by side, ``fh`` being the last field."""
    basic = type(container).__basicsize__
    raw = ctypes.string_at(id(container), basic)
    if struct.unpack_from("=Q", raw, basic - 8)[0] != fh:
        return None
    pattern = struct.pack("=qQ", off, size)
    places = [at for at in range(16 + 16, basic - 8 - 16 + 1, 8)
              if raw[at:at + 16] == pattern]
    if len(places) != 1:
        return None
    req: int = struct.unpack_from("=Q", raw, places[0] - 16)[0]
    return req or None


async def find(fh: int, off: int, size: int) -> Request | None:
    """The request the calling read handler serves (its arguments ``fh``, ``off``,
    ``size``); None if pyfuse3 does not hold it where it is looked for.

    The task's coroutine chain can be read only while the task is parked, so
    the look happens in a callback of trio's loop while this task waits."""
    if _LIBFUSE is None:
        return None
    task = trio.lowlevel.current_task()
    found: list[int | None] = []
    looked = trio.Event()

    def look() -> None:
        try:
            container = _container(task)
            found.append(None if container is None
                         else _request_pointer(container, fh, off, size))
        finally:
            looked.set()

    trio.lowlevel.current_trio_token().run_sync_soon(look)
    await looked.wait()
    req = found[0] if found else None
    if req is None:
        return None
    pid = int(_LIBFUSE.fuse_req_ctx(req).contents.pid)
    return Request(req, pid) if pid > 0 else None
