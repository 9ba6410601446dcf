"""A trace array's data plane and settings, as kernel/trace/trace.c and
trace_output.c: the buffers' readers (``trace``, ``trace_pipe``, raw pages),
binary records, printing through libtraceevent, markers, options and the
top-level settings files.
"""
