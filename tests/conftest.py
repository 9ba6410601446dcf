"""Fixtures that mount tpfs in a subprocess and always unmount it afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tpfs.mounting import Mount, MountError, is_mounted, start_tpfs

ROOT = Path(__file__).resolve().parent.parent


def start_daemon(mnt: Path, log: Path, *args: str, wait: float = 15) -> Mount:
    try:
        return start_tpfs(mnt, log, "--debug", *args, wait=wait)
    except MountError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def mount_factory(tmp_path: Path) -> Iterator:
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this machine")
    mounts: list[Mount] = []

    def factory(*args: str, name: str = "mnt") -> Mount:
        mount = start_daemon(tmp_path / name, tmp_path / f"{name}.log", *args)
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
    from tpfs import catalog

    full = catalog.load_embedded()
    path = tmp_path_factory.mktemp("catalog") / "small.json.gz"
    catalog.dump(catalog.Catalog(full.events[:150], full.header_page, full.header_event), path)
    return path


@pytest.fixture
def small(mount_factory, small_catalog) -> Mount:
    """A mount with a 150-event catalogue and seed 1."""
    return mount_factory("--seed", "1", "--catalog", str(small_catalog))
