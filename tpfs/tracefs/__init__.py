"""What the tracefs files say and accept, over the model in ``tpfs.kernel``.

The tree of nodes (``tree``), the handles an open file gets (``handles``),
seq_file and the listings, the line formats (``lines``), control-file
syntax (``control``), the event layer (``events``, ``filter``,
``trigger``), the top-level tracing settings and the catalogue. Nothing
here knows about FUSE or trio: a handle's read or write is a plain call
that runs to completion, which keeps the concurrency rule of ``tpfs.fuse``
easy to keep.
"""
