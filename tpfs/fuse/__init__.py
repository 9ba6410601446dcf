"""The FUSE adapter: pyfuse3 ``Operations``, inodes and directory handles, the daemon.

The concurrency rule
--------------------
Every request is a trio task on the daemon's one thread, and the model
(``tpfs.kernel``) and the files over it (``tpfs.tracefs``) are touched only
from those tasks. A task runs without interruption until it awaits, so a
handler that checks a batch and applies it with no ``await`` in between is
atomic against every other request: that is what makes each write() to a
control file all or nothing, and what lets a listing's cursor be read and
moved without a lock.

A handler that must wait (a reader blocking until data arrives) awaits
only before it reads any state, or after it is done with it, never between
reading state and acting on what it read: after each wait it looks at the
state afresh. The handlers here never await anything but such waits, and
call into the lower layers synchronously. The one other await is between
the slices of a long write (``fire``): its check is whole and done before
anything is applied, and each slice applies against the state as it is
then, as the kernel fires events one by one while other tasks run.
"""
