"""Tests of end-to-end encryption keys and room key backups: stores (both
engines), pure rules, and the HTTP API (tests/api/test_e2ee*.py)."""
