"""The test suite; see tests/support/README.md for the shared helpers."""
