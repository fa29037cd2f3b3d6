"""Replicated streams: the registry (one declaration per stream), tokens,
and one module per stream for what crosses processes.

Every stream that clients page through or that workers replicate is declared
once in `registry.STREAMS`. Sync tokens, writer selection, position
tracking and notifier wake-ups are derived from that tuple by loops.
"""
