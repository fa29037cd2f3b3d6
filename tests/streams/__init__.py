"""Tests of per-user stream modules and their stores (typing, receipts)."""
