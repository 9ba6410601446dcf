"""``python -m tpfs.churn``: the same as ``tpfs churn`` (see ``tpfs.tools.churn``)."""

import sys

from .tools.churn import main

if __name__ == "__main__":
    sys.exit(main())
