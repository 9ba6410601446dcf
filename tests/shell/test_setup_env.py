"""tools/setup-env.sh's check of the system packages, run as mount.sh and test.sh
run it (``set -euo pipefail``), with stand-ins for the commands whose answers
matter: no mount, no package installed."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: ldconfig -p whose first library is libtraceevent, followed by far more than a
#: pipe holds: a reader that leaves at the first match ends it by SIGPIPE.
LDCONFIG = """#!/bin/sh
printf '\\tlibtraceevent.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libtraceevent.so.1\\n'
yes '\\tlibfiller.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libfiller.so.0' | head -n 200000
"""


def packages_check(tmp_path: Path, ldconfig: str) -> subprocess.CompletedProcess[str]:
    """``tpfs_system_packages`` as a user other than root (a stand-in ``id``: it
    reports what is missing instead of installing it), with ``ldconfig`` as given."""
    text = (ROOT / "tools/setup-env.sh").read_text()
    start = text.index("tpfs_system_packages() {")
    function = text[start:text.index("\n}\n", start) + 3]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("ldconfig", ldconfig), ("id", "#!/bin/sh\necho 65534\n")):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    script = f"set -euo pipefail\n{function}\ntpfs_system_packages\n"
    return subprocess.run(["bash", "-c", script], env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)


def test_a_library_early_in_ldconfigs_list_is_found(tmp_path: Path) -> None:
    res = packages_check(tmp_path, LDCONFIG)
    assert res.returncode == 0, res.stderr
    assert "missing" not in res.stderr


def test_a_library_not_in_the_list_is_missing(tmp_path: Path) -> None:
    res = packages_check(tmp_path, "#!/bin/sh\nprintf '\\tlibc.so.6 (libc6,x86-64)\\n'\n")
    assert res.returncode == 1
    assert "missing system packages (libtraceevent1)" in res.stderr
