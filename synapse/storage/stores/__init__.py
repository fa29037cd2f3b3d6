"""Read stores, one per area, each owning its tables' read queries."""
