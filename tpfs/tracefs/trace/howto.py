"""The top-level ``README``: the kernel's tracing mini-HOWTO.

The text is the reference kernel's own (Linux 6.18, ``cat README`` on its
tracefs), kept verbatim as package data: it is an interface, not prose,
because tools such as libtracefs search it for the features a kernel has
(event syntaxes, files). The file is read-only, mode 0440.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

MODE_README = 0o440


@cache
def readme_text() -> str:
    """The reference kernel's ``README``, byte for byte."""
    data = resources.files("tpfs.tracefs").joinpath("data/tracefs_README.txt").read_bytes()
    return data.decode("ascii")
