"""The model of ``kernel/tracepoint.c``: registry, iterator, slab and grace periods.

Nothing in this package does I/O, renders text or knows about FUSE or trio;
it is plain state and the kernel's operations on it.

Who may change the state, and why a batch is atomic
----------------------------------------------------
``tracepoints_mutex`` in the kernel covers the entry table, the probe
arrays it publishes and ``tracepoint_module_list``. Here the one trio thread
of the daemon takes its place: every object in this package is read and
changed only from that thread, and no method here awaits, so a call runs to
completion before any other request is looked at. A caller that wants
several changes to land together (one write() to a control file) checks
the whole batch with the ``check_*`` methods or the batch operations, which
raise before they change anything, and applies it in the same synchronous
stretch of code. Between checking and applying there must be no ``await``.

Readers of the listings hold only a ``TracepointIter`` (an address and a
position) between two read() calls, never a reference into the lists, so a
module may go between them; the sorted list makes the cursor resume at the
right place.
"""
