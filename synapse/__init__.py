"""A Matrix homeserver: one codebase that runs as a monolith or as workers.

Map: app/ (entry points), config/ (one module per config section),
server.py (builds the components a process needs, the only reader of the
process role), api/ (errors, auth, ratelimits), events/ (event format,
hashing, signing, auth rules), state/ (state resolution), http/ (JSON
server and clients), rest/ (thin servlets), routes.py (the endpoint table),
handlers/ (business logic), streams/ (the stream registry), storage/
(database pool, migrations, per-area stores), replication/, notifier.py.
"""

__version__ = "0.1.0"
