"""Prometheus metrics: database.py (transaction counts and times by name).
Request, event and notifier metrics live beside the code they measure
(http/server.py, storage/persist_events.py, notifier.py)."""
