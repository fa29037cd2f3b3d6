"""Tests of the relations store, threads and bundled aggregations."""
