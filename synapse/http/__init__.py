"""HTTP: the JSON request router (server.py), request parsing helpers for
servlets (servlet.py), the Site and Request classes with access logging and
X-Forwarded-For handling (site.py), and outbound clients."""
