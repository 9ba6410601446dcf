"""The event layer, as kernel/trace/trace_events*.c: ``events/`` and
``set_event``, filters, triggers, histograms, synthetic events, the catalogue
of core events.
"""
