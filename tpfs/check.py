"""``python -m tpfs.check``: the same as ``tpfs check`` (see ``tpfs.tools.check``)."""

import sys

from .tools.check import main

if __name__ == "__main__":
    sys.exit(main())
