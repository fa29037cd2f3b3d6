"""Tests for the storage foundation: pool, engines, migrations, id generators."""
