"""User directory tests: the store on both engines (test_store.py), the
updater driven by real room events (test_updater.py); the HTTP API is in
tests/api/test_user_directory.py."""
