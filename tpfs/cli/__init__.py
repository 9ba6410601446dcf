"""The ``tpfs`` command and its subcommands.

``tpfs MOUNTPOINT [options]`` mounts (the default); ``tpfs run``, ``tpfs exec-as-tracefs``,
``tpfs churn``, ``tpfs check``, ``tpfs workload`` and ``tpfs explore`` run the other
tools.
``python -m tpfs`` is the same command.
"""

from __future__ import annotations

import sys

from ..tools import check, churn, explore, workload
from . import nsexec, run

SUBCOMMANDS = {
    "run": run.main,
    "exec-as-tracefs": nsexec.main,
    "churn": churn.main,
    "check": check.main,
    "workload": workload.main,
    "explore": explore.main,
}
USAGE = ("tpfs run [MOUNT OPTIONS] -- COMMAND [ARG...]; "
         "tpfs exec-as-tracefs MOUNTPOINT -- COMMAND [ARG...]; "
         "tpfs churn MOUNTPOINT [options]; tpfs check MOUNTPOINT [options]; "
         "tpfs workload MOUNTPOINT [options]; tpfs explore [options]")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sub = SUBCOMMANDS.get(argv[0]) if argv else None
    if sub is not None:
        return sub(argv[1:])
    # Imported here: it needs pyfuse3, which ``tpfs run`` checks for before it says so.
    from . import mount

    return mount.main(argv, epilog=USAGE)
