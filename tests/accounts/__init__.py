"""Tests of the accounts area: stores on both engines (test_*_store.py) and
pure logic (tokens, HMAC, username rules). API tests over HTTP live in
tests/api/test_accounts*.py."""
