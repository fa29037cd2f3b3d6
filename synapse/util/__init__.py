"""Small utilities: the clock, caches, async helpers, JSON helpers."""
