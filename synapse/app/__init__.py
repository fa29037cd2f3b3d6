"""Process entry points.

Map: homeserver.py (the main process: `synapse_homeserver`),
generic_worker.py (a worker: `synapse_worker`), _base.py (what both share:
arguments, config loading and generation, logging, pid file, signals,
sd_notify), listeners.py (opening http/metrics listeners, /health,
/_synapse/metrics, TLS, UNIX sockets). Synapse's legacy worker module
names (client_reader.py, pusher.py, ...) all run the generic worker.
"""
