"""The registry's own files: ``modules/`` and ``probes/`` control syntax, the
``tracepoints`` and ``available_events`` listings and their line formats.
"""
