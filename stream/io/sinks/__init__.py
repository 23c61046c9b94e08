"""Outputs: the sink interface, the PyAV encoder, reconnecting and child-process wrappers, the preview,
:func:`open_sink`."""
