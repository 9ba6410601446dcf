"""Dynamic events, as kernel/trace/trace_dynevent.c and trace_probe.c: kprobe,
uprobe and eprobe definitions and the files that create and remove them.
"""
