"""``tpfs MOUNTPOINT``: parse the daemon's options, build the registry and the tree, mount.

Detaches once the mount is up unless ``--foreground``; the parent exits 0
only when the child says the mount answers. With ``--pidfile`` the daemon
writes its pid once mounted and removes the file when it ends, however it
ends short of SIGKILL (unless another daemon has written its own pid there
since).

``--live`` (root only) serves the host's catalogue and CPUs and carries the
machine's real events into tpfs through a kernel instance of its own
(``fuse/live.py``). Its mount shows every process's activity, so it stays
root's alone: with ``--allow-other`` or ``--gid`` it is refused unless
``--live-expose-all`` says the exposure is meant.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ..fuse.busy_poll import DEFAULT_WINDOW_US
from ..fuse.daemon import Daemon
from ..fuse.live import KernelInstance, LiveError, LiveReader
from ..fuse.operations import Operations, proc_comm
from ..fuse.waiting import MAX_WAITING
from ..kernel.personality import DEFAULT, kernel_argument, known, personality
from ..kernel.registry import Limits, ProbesChanged, Registry
from ..tracefs.events import catalog
from ..tracefs.events.live_wants import LiveWants
from ..tracefs.events.symbols import host_symbols, host_syscalls
from ..tracefs.trace.printer import MARKER_IP
from ..tracefs.tree import Tree

log = logging.getLogger(__name__)

#: ``--cpus``'s ceiling: every CPU has buffers and files.
MAX_CPUS = 64


def _group(value: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise argparse.ArgumentTypeError(f"no group {value!r}") from None


#: The longest ``--busy-poll-us``: a second of polling after a request is already
#: a CPU kept busy for nothing.
MAX_BUSY_POLL_US = 1_000_000


def _busy_poll(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_BUSY_POLL_US:
        raise argparse.ArgumentTypeError(
            f"{value!r}: microseconds from 0 to {MAX_BUSY_POLL_US:,}")
    return int(value)


def host_symbol(name: str) -> int | None:
    """A kernel function's address from /proc/kallsyms (None when hidden or absent):
    tools that record name addresses with the host's kallsyms."""
    try:
        with open("/proc/kallsyms") as kallsyms:
            for line in kallsyms:
                addr, _, symbol = line.rstrip("\n").split(" ", 2)
                if symbol == name:
                    return int(addr, 16) or None
    except (OSError, ValueError):
        return None
    return None


def _cpus(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_CPUS:
        raise argparse.ArgumentTypeError(f"--cpus takes 1 to {MAX_CPUS}, not {value!r}")
    return int(value)


def parse_args(argv: list[str], epilog: str = "") -> argparse.Namespace:
    defaults = Limits()
    p = argparse.ArgumentParser(prog="tpfs", description=(
        "Serve a model of the Linux tracepoint registry as a tracefs-style directory."),
        epilog=f"Also: {epilog}")
    p.add_argument("mountpoint")
    p.add_argument("--foreground", "-f", action="store_true",
                   help="stay in the foreground (default: detach once mounted)")
    p.add_argument("--debug", action="store_true", help="log every refused request")
    p.add_argument("--log", metavar="FILE", help="log here (default: standard error)")
    p.add_argument("--pidfile", metavar="FILE",
                   help="write the daemon's pid here once mounted; removed when it exits")
    p.add_argument("--catalog", default="default", metavar="SRC",
                   help="core tracepoints: 'default' (embedded), 'host' (the live tracefs) "
                        "or a catalogue file")
    p.add_argument("--seed", type=int, default=0, help="seed of the address allocator")
    p.add_argument("--cpus", type=_cpus, metavar="N",
                   help="CPUs to trace on: per_cpu/cpuN, buffers, tracing_cpumask "
                        "(default: this machine's)")
    p.add_argument("--kernel", type=kernel_argument, default=DEFAULT, metavar="VERSION",
                   help=f"the tracepoint.c to model: {known()} (default {DEFAULT.name})")
    p.add_argument("--legacy-iterator", dest="kernel", action="store_const",
                   const=personality("3.1"),
                   help="the same as --kernel 3.1: the pre-patch walk, to show its bug")
    p.add_argument("--allow-other", action="store_true", help="let other users in")
    p.add_argument("--gid", type=_group, metavar="GROUP",
                   help="group of every file (default: the mounting user's)")
    p.add_argument("--live", action="store_true",
                   help="carry the machine's real events into tpfs (root; the host's "
                        "catalogue and CPUs)")
    p.add_argument("--live-expose-all", action="store_true",
                   help="let --live go with --allow-other or --gid: every process's "
                        "activity on the machine becomes readable by them")
    p.add_argument("--max-modules", type=int, default=defaults.max_modules)
    p.add_argument("--max-probes", type=int, default=defaults.max_probes)
    p.add_argument("--max-module-tracepoints", type=int,
                   default=defaults.max_module_tracepoints)
    p.add_argument("--max-instances", type=int, default=defaults.max_instances,
                   help="tracepoints over all loaded modules, tainted ones included")
    p.add_argument("--max-waiting-reads", type=int, default=MAX_WAITING, metavar="N",
                   help="trace_pipe reads that may wait for data at once; more are EAGAIN")
    p.add_argument("--busy-poll-us", type=_busy_poll, default=DEFAULT_WINDOW_US, metavar="US",
                   help="microseconds after each request in which the daemon looks for the "
                        "next one instead of sleeping: faster for a reader on another CPU "
                        f"(default {DEFAULT_WINDOW_US}: sleep at once; docs/busy-poll.md)")
    return p.parse_args(argv)


def build(args: argparse.Namespace, operations: type[Operations] = Operations) -> Operations:
    return _operations(args, operations, _tree(args, catalog.load(args.catalog)))


def _operations(args: argparse.Namespace, operations: type[Operations], tree: Tree,
                sync: Callable[[], None] = lambda: None) -> Operations:
    gid = args.gid if args.gid is not None else os.getgid()
    return operations(tree, uid=os.getuid(), gid=gid, max_waiting=args.max_waiting_reads,
                      sync=sync, busy_poll=args.busy_poll_us / 1e6)


def _tree(args: argparse.Namespace, cat: catalog.Catalog,
          on_probes: ProbesChanged = lambda name, funcs: None) -> Tree:
    limits = Limits(args.max_modules, args.max_probes, args.max_module_tracepoints,
                    args.max_instances)
    registry = Registry([e.name for e in cat.events], seed=args.seed, limits=limits,
                        personality=args.kernel, on_probes=on_probes)
    tree = Tree(registry, cat, ncpus=args.cpus,
                marker_ip=host_symbol("tracing_mark_write") or MARKER_IP, symbols=host_symbols,
                syscalls=host_syscalls)
    return tree


def build_live(args: argparse.Namespace,
               operations: type[Operations] = Operations) -> tuple[Operations, LiveReader]:
    """The daemon's operations over the host's catalogue, and the reader that carries
    the kernel's records into them (the kernel's instance made; LiveError if not)."""
    kernel = KernelInstance()
    try:
        cat = catalog.load_host()
        wants = LiveWants([e.name for e in cat.events], kernel)
        tree = _tree(args, cat, wants.probes_changed)
        firer = tree.firer
        reader = LiveReader(kernel, firer, firer.layer, firer.probes.targets,
                            {e.id: e.name for e in cat.events}, wants.recording,
                            proc_comm)
        ops = _operations(args, operations, tree, reader.flush)
    except BaseException:
        kernel.close()
        raise
    return ops, reader


def _live_refusal(args: argparse.Namespace) -> str | None:
    """Why these options cannot go with ``--live``, if they cannot."""
    if args.cpus is not None:
        return "--live serves this machine's CPUs: leave out --cpus"
    if args.catalog != "default":
        return "--live serves this machine's catalogue: leave out --catalog"
    if (args.allow_other or args.gid is not None) and not args.live_expose_all:
        return ("--live shows every process's activity on this machine: it stays root's "
                "alone; --allow-other or --gid with it needs --live-expose-all")
    return None


def _detach() -> int | None:
    """Fork; the parent waits for the child's word that the mount is up.

    Returns the write end of the pipe in the child; the parent never returns.
    """
    rfd, wfd = os.pipe()
    if os.fork():
        os.close(wfd)
        with os.fdopen(rfd, "rb") as pipe:
            ok = pipe.read() == b"ok"
        os._exit(0 if ok else 1)
    os.close(rfd)
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    return wfd


def _remove_pidfile(path: str) -> None:
    """Remove ``path`` unless it names another process by now (a later daemon's)."""
    with contextlib.suppress(OSError):
        if Path(path).read_text() == f"{os.getpid()}\n":
            os.unlink(path)


def main(argv: list[str], *, epilog: str = "",
         operations: type[Operations] = Operations) -> int:
    """Run the daemon; ``operations`` lets a test serve a subclass."""
    args = parse_args(argv, epilog)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        filename=args.log,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not os.path.isdir(args.mountpoint):
        print(f"tpfs: {args.mountpoint}: not a directory", file=sys.stderr)
        return 1
    live: LiveReader | None = None
    ready_fd = None
    if args.live:
        refusal = _live_refusal(args)
        if refusal is not None:
            print(f"tpfs: {refusal}", file=sys.stderr)
            return 1
        # The kernel's instance is named after the daemon's pid: made after the fork.
        ready_fd = None if args.foreground else _detach()
        try:
            ops, live = build_live(args, operations)
        except (LiveError, OSError, RuntimeError, ValueError) as exc:
            print(f"tpfs: --live: {exc}", file=sys.stderr)
            return 1
    else:
        try:
            ops = build(args, operations)
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"tpfs: cannot load the catalogue: {exc}", file=sys.stderr)
            return 1
        ready_fd = None if args.foreground else _detach()
    options = {"fsname=tpfs", "subtype=tpfs", "default_permissions"}
    if args.allow_other:
        options.add("allow_other")

    def ready() -> None:
        if args.pidfile:
            Path(args.pidfile).write_text(f"{os.getpid()}\n")
        if ready_fd is not None:
            os.write(ready_fd, b"ok")
            os.close(ready_fd)

    try:
        Daemon(ops, args.mountpoint, options, live).run(ready)
    except (RuntimeError, OSError) as exc:
        log.error("tpfs on %s: %s", args.mountpoint, exc)
        return 1
    finally:
        if live is not None:
            live.close()
        if args.pidfile:
            _remove_pidfile(args.pidfile)
    return 0
