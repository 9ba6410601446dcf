"""``python -m tpfs``: the same as the ``tpfs`` command."""

import sys

from .cli import main

sys.exit(main())
