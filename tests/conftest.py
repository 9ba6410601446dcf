"""Fixtures that mount tpfs in a subprocess and always unmount it afterwards.

The tiers are folders: ``model`` and ``tracefs`` need no mount; every other
folder (``mounted``, ``shell``, ``compat``, ``clients``) gets the ``mount``
marker, so ``-m "not mount"`` or ``./test.sh tests/model`` runs without FUSE.
Tests that may use the kernel's own tracefs take turns (``pytest_runtest_protocol``).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.configuration
import pytest
from compat.kernel import kernel_tracefs

from tpfs.tools.mounting import TPFS, Mount, MountError, is_mounted, start_tpfs

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
UNMOUNTED_TIERS = ("model", "tracefs")
#: Tiers whose tests use the kernel's own tracefs, of which a machine has one:
#: under ``-n`` (./test.sh runs two workers) they take turns (``pytest_runtest_protocol``).
KERNEL_TIERS = ("compat", "clients")
KERNEL_LOCK = Path(tempfile.gettempdir()) / "tpfs-tests-kernel-tracefs.lock"
#: How long a test waits for its turn before it fails: far more than any one
#: test takes, so only a lock that is never let go reaches it.
KERNEL_LOCK_WAIT = 900
NO_KERNEL_TURN = pytest.StashKey[bool]()

# Hypothesis keeps its files (failing examples among them) outside the checkout,
# so that no example found once replays from the tree into every later run; CI
# draws the same examples each run and remembers none.
hypothesis.configuration.set_hypothesis_home_dir(
    Path(tempfile.gettempdir()) / f"tpfs-hypothesis-{os.getuid()}")
hypothesis.settings.register_profile("ci", database=None, derandomize=True, print_blob=True)
hypothesis.settings.register_profile("dev", print_blob=True)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") == "true" else "dev")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--no-skips", action="store_true",
                     help="fail every test that would be skipped (CI: a machine that lacks "
                          "FUSE, the kernel's tracefs or a client must not pass quietly)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    # An expected failure (strict xfail) reports as skipped too: it is no skip.
    if (report.skipped and not hasattr(report, "wasxfail")
            and item.config.getoption("--no-skips")):
        report.outcome = "failed"
        report.longrepr = f"skipped under --no-skips: {report.longrepr}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in UNMOUNTED_TIERS:
            item.add_marker(pytest.mark.mount)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item,
                            nextitem: pytest.Item | None) -> Generator[None, Any, None]:
    """A test that may use the kernel's tracefs holds a lock from its setup to
    its teardown, so that two workers (or two runs) never change the kernel's
    tracing state at once. Taken outside pytest-timeout's clock (tryfirst: this
    wrapper is the outer one), so that waiting for another test's turn does not
    count against this test's limit."""
    path = item.path
    if (path.relative_to(TESTS).parts[0] not in KERNEL_TIERS
            and path.name not in ("test_bench_smoke.py", "test_live.py")):
        yield
        return
    with open(KERNEL_LOCK, "a") as lock:
        deadline = time.monotonic() + KERNEL_LOCK_WAIT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:  # the test fails (kernel_lock_taken)
                    item.stash[NO_KERNEL_TURN] = True
                    break
                time.sleep(0.2)
        yield


@pytest.fixture(autouse=True)
def kernel_lock_taken(request: pytest.FixtureRequest) -> None:
    """Fail, before it starts, a test that never got its turn on the kernel."""
    if request.node.stash.get(NO_KERNEL_TURN, False):
        pytest.fail(f"waited {KERNEL_LOCK_WAIT} s for {KERNEL_LOCK}: something holds it "
                    "(a run wrapped in flock of it waits for itself)")


def start_daemon(mnt: Path, log: Path, *args: str, wait: float = 15,
                 program: Sequence[str] = TPFS) -> Mount:
    try:
        return start_tpfs(mnt, log, "--debug", *args, wait=wait, program=program)
    except MountError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def mount_factory(tmp_path: Path) -> Iterator:
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this machine")
    mounts: list[Mount] = []

    def factory(*args: str, name: str = "mnt", program: Sequence[str] = TPFS) -> Mount:
        mount = start_daemon(tmp_path / name, tmp_path / f"{name}.log", *args, program=program)
        mounts.append(mount)
        return mount

    yield factory
    for mount in mounts:
        mount.stop()
        assert not is_mounted(mount.path)
        assert "Traceback" not in mount.log_text() or "fault injected" in mount.log_text(), \
            mount.log_text()


@pytest.fixture
def tpfs(mount_factory) -> Mount:
    """A mount with the embedded catalogue and seed 1."""
    return mount_factory("--seed", "1")


@pytest.fixture(scope="session")
def small_catalog(tmp_path_factory) -> Path:
    """The first 150 events of the embedded catalogue, for tests that read byte by byte."""
    from tpfs.tracefs.events import catalog

    full = catalog.load_embedded()
    path = tmp_path_factory.mktemp("catalog") / "small.json.gz"
    catalog.dump(catalog.Catalog(full.events[:150], full.header_page, full.header_event), path)
    return path


@pytest.fixture
def small(mount_factory, small_catalog) -> Mount:
    """A mount with a 150-event catalogue and seed 1."""
    return mount_factory("--seed", "1", "--catalog", str(small_catalog))


@pytest.fixture(params=["tpfs", "kernel"])
def tracefs(request, tmp_path: Path, mount_factory) -> Iterator[Path]:
    """A tpfs mount, then the kernel's own tracefs: each compat test runs on both."""
    if request.param == "tpfs":
        yield mount_factory().path
    else:
        with kernel_tracefs(tmp_path) as mnt:
            yield mnt


@pytest.fixture(params=["tpfs-live", "kernel"])
def live_tracefs(request, tmp_path: Path, mount_factory) -> Iterator[Path]:
    """A ``--live`` tpfs mount, then the kernel's own tracefs: for compat tests that
    drive the machine's real activity (root only, as ``--live`` is)."""
    if request.param == "tpfs-live":
        if os.geteuid() != 0:
            pytest.skip("--live needs root")
        yield mount_factory("--live").path
    else:
        with kernel_tracefs(tmp_path) as mnt:
            yield mnt


@pytest.fixture
def on_cpu0() -> Iterator[None]:
    """Run on CPU 0, where tpfs records markers, so that the kernel records them there too."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)
