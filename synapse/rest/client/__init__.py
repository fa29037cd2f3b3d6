"""Client-Server API servlets, one module per area of the spec."""
