"""``sqlstream verify``: a script's exactly-once promise, checked by killing it.

``chaos`` runs a script under SIGKILLs and compares sink contents (shared with the crash
tests), ``targets`` bounds sources and shadows sinks per connector, ``command`` runs the
two runs and reports per sink.
"""
