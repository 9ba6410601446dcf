"""The ``tracefs`` fixture: each compat test runs on a tpfs mount and on the kernel's tracefs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from compat.kernel import kernel_tracefs


@pytest.fixture(params=["tpfs", "kernel"])
def tracefs(request, tmp_path: Path, mount_factory) -> Iterator[Path]:
    if request.param == "tpfs":
        yield mount_factory().path
    else:
        with kernel_tracefs(tmp_path) as mnt:
            yield mnt
