"""Tests of the search index, its store and the search handler."""
