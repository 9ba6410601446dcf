"""``tpfs run [MOUNT OPTIONS] -- CMD [ARG...]``: CMD with a private tpfs as its tracefs.

One process does it all, in two steps. Outside: check what is needed
(``preflight``: one line and a status of its own per problem), then exec
unshare(1) into a private mount namespace (rootless, a user namespace too),
running this module again. Inside, the supervisor: mount a daemon with the
MOUNT OPTIONS on a temporary directory, make it the tracefs there the way
``exec-as-tracefs`` does (``nsexec.setup_argv``), run CMD, and when CMD ends
stop the daemon and exit with CMD's status (a signal's death as 128+N, as a
shell does). The mount lives in the private namespace only: nothing outside
ever sees it, and it goes when the namespace goes, whatever happens to CMD.

Signals: CMD shares the terminal's process group; the daemon has a session
of its own, so Ctrl-C reaches CMD and never the daemon, which keeps serving
CMD while it stops (trace-cmd writes its file then). The supervisor holds
the ending signals blocked and takes them with sigtimedwait: one from the
terminal (the kernel's) CMD has had already and is not passed on; one sent
with kill(2) to the supervisor is passed on to CMD. If the daemon dies
before CMD, CMD's status is still the exit status and the daemon's log tail
goes to standard error. The daemon gets SIGTERM if the supervisor dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..tools.mounting import is_mounted
from . import nsexec, preflight

USAGE = "usage: tpfs run [MOUNT OPTIONS] -- COMMAND [ARG...]"
#: The supervisor's argv marker: ``python -m tpfs run --tpfs-run-inside MODE ...``.
INSIDE = "--tpfs-run-inside"
#: The signals the supervisor takes in its loop (the ending ones and SIGCHLD).
PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
WATCHED = (*PASSED_ON, signal.SIGCHLD)
#: ``si_code`` of a signal the kernel sent (the terminal's Ctrl-C, Ctrl-\\).
SI_KERNEL = 0x80
PR_SET_PDEATHSIG = 1
#: How long the mount may take to come up, and the daemon to end once told.
MOUNT_WAIT = 30.0
STOP_WAIT = 10.0
LOG_TAIL = 20


def _split(argv: list[str]) -> tuple[list[str], list[str]] | None:
    if "--" not in argv:
        return None
    split = argv.index("--")
    options, cmd = argv[:split], argv[split + 1:]
    return (options, cmd) if cmd else None


def _bad_options(options: list[str]) -> bool:
    """Are the mount options wrong? argparse says why on standard error."""
    from . import mount  # imports pyfuse3: only once the packages are known to be there

    try:
        mount.parse_args(["MOUNTPOINT", *options])
    except SystemExit as exc:
        return exc.code != 0
    return False


def main(argv: list[str]) -> int:
    """Outside: check, then become the supervisor in a private namespace."""
    if argv[:1] == [INSIDE]:
        return inside(argv[1:])
    head = argv[:argv.index("--")] if "--" in argv else argv
    if "-h" in head or "--help" in head:
        print(f"{USAGE}\nMOUNT OPTIONS are those of 'tpfs MOUNTPOINT' (tpfs --help); "
              "exit statuses: docs/ci.md")
        return 0
    split = _split(argv)
    if split is None:
        print(USAGE, file=sys.stderr)
        return preflight.EXIT_USAGE
    options, cmd = split
    checks: list[Callable[[], preflight.Problem | None]] = [
        *preflight.CHECKS, functools.partial(preflight.command, cmd)]
    for check in checks:
        problem = check()
        if problem is not None:
            print(problem.message, file=sys.stderr)
            return problem.status
    if _bad_options(options):
        return preflight.EXIT_USAGE
    rootless = not nsexec.privileged()
    unshare = shutil.which("unshare")
    assert unshare is not None  # preflight.packages saw it
    os.execv(unshare, [*nsexec.unshare_argv(unshare, rootless=rootless), sys.executable,
                       "-m", "tpfs", "run", INSIDE, "rootless" if rootless else "root",
                       *options, "--", *cmd])
    return 0  # not reached


@dataclass(slots=True)
class Supervisor:
    """Inside the private namespace: the daemon, CMD, and the signals between them."""

    tmp: Path
    daemon: subprocess.Popen[bytes]

    @property
    def mnt(self) -> Path:
        return self.tmp / "tracing"

    @property
    def log(self) -> Path:
        return self.tmp / "daemon.log"

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL:])

    def report_daemon(self, status: int | None) -> None:
        print(f"tpfs run: the daemon failed (status {status}); its log ends:\n"
              f"{self.log_tail()}", file=sys.stderr)

    def wait_mounted(self) -> int | None:
        """None once the mount answers; else the status to exit with."""
        deadline = time.monotonic() + MOUNT_WAIT
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                print(f"tpfs: the mount did not come up (the daemon exited with "
                      f"{self.daemon.returncode}); its log ends:\n{self.log_tail()}",
                      file=sys.stderr)
                return preflight.EXIT_MOUNT
            if is_mounted(self.mnt) and (self.mnt / "available_events").exists():
                return None
            info = signal.sigtimedwait(PASSED_ON, 0.02)
            if info is not None:
                return 128 + info.si_signo
        print(f"tpfs: the mount did not come up within {MOUNT_WAIT:.0f} s; the daemon's log "
              f"ends:\n{self.log_tail()}", file=sys.stderr)
        return preflight.EXIT_MOUNT

    def run_command(self, cmd: list[str], rootless: bool) -> int:
        """Run CMD to its end, passing on signals sent to this process; its exit status."""
        env = {**os.environ, "TPFS_MOUNT": str(self.mnt), "TPFS_DAEMON_PID": str(self.daemon.pid)}
        child = subprocess.Popen(nsexec.setup_argv(str(self.mnt), cmd, rootless=rootless),
                                 env=env, preexec_fn=_unblock)
        daemon_status: int | None = None
        while True:
            if daemon_status is None and self.daemon.poll() is not None:
                daemon_status = self.daemon.returncode
                if daemon_status != 0:  # 0: CMD unmounted it, which is CMD's business
                    self.report_daemon(daemon_status)
            status = child.poll()
            if status is not None:
                return status if status >= 0 else 128 - status
            info = signal.sigtimedwait(WATCHED, 1.0)
            if info is None or info.si_signo == signal.SIGCHLD:
                continue
            if info.si_code != SI_KERNEL:  # sent to us alone: CMD has not had it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, info.si_signo)

    def stop(self) -> None:
        """End the daemon (it unmounts), by force if it will not; remove the directory."""
        if self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                status = self.daemon.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                status = self.daemon.wait()
            if status != 0:
                self.report_daemon(status)
        if is_mounted(self.mnt):  # a daemon killed leaves its mount (in here only)
            subprocess.run(["umount", "-l", str(self.mnt)], capture_output=True)
        with contextlib.suppress(OSError):
            self.log.unlink()
        with contextlib.suppress(OSError):
            self.mnt.rmdir()
            self.tmp.rmdir()


def _unblock() -> None:
    """In a child before exec: the signals the supervisor holds back are its own again."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)


def inside(argv: list[str]) -> int:
    """The supervisor, in the private namespace: ``rootless|root OPTIONS -- CMD``."""
    mode, rest = argv[0], argv[1:]
    split = rest.index("--")
    options, cmd = rest[:split], rest[split + 1:]
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    libc = ctypes.CDLL(None, use_errno=True)

    def daemon_setup() -> None:
        _unblock()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    tmp = Path(tempfile.mkdtemp(prefix="tpfs-run-"))
    (tmp / "tracing").mkdir()
    with open(tmp / "daemon.log", "wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "tpfs", str(tmp / "tracing"), "--foreground", *options],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=daemon_setup)
    supervisor = Supervisor(tmp, daemon)
    try:
        failed = supervisor.wait_mounted()
        if failed is not None:
            return failed
        return supervisor.run_command(cmd, mode == "rootless")
    finally:
        supervisor.stop()
