"""Admin API servlets under /_synapse/admin."""
