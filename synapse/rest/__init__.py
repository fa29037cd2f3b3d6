"""Thin servlets: client/ (Client-Server API), admin/ (/_synapse/admin).
Each servlet docstring starts with its METHOD /path; routes.py lists them."""
