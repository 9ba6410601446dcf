"""tpfs: the Linux tracepoint registry as a FUSE filesystem."""

__version__ = "0.1.0"
