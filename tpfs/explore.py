"""``python -m tpfs.explore``: the same as ``tpfs explore`` (see ``tpfs.tools.explore``)."""

import sys

from .tools.explore import main

if __name__ == "__main__":
    sys.exit(main())
