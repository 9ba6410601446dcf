"""``python -m tpfs.workload``: the same as ``tpfs workload`` (see ``tpfs.tools.workload``)."""

import sys

from .tools.workload import main

if __name__ == "__main__":
    sys.exit(main())
