"""Configuration: Synapse's homeserver.yaml format, one module per section.

Entry point: `homeserver.HomeServerConfig.load(paths)`.

Map: _base.py (typed, tolerant value reading with one-line errors),
files.py (finding and merging -c files), homeserver.py (all sections),
server.py, listeners.py, federation.py, database.py, logger.py (also
logging setup), key.py, registration.py, ratelimiting.py, media.py, metrics.py,
presence.py, user_directory.py, room_directory.py, redis.py,
workers.py (the process role: instance name, writers, duties),
generate.py (--generate-config and missing companion files).
"""
