"""System tests of the worker topology: real processes on throwaway
PostgreSQL and Redis behind generated nginx config (tests/support/topology.py).

- conftest.py: the module-scoped `topology` fixture.
- client.py: a small Matrix client over raw HTTP (register, rooms, send, sync).
- test_topology_harness.py: the harness builds and routes what it claims.
- test_startup_order.py: a worker started before main.
- test_replication_auth.py: the replication listeners' shared secret.
- test_multi_writer_ordering.py: /sync over two event persisters.
- test_generic_worker_restart.py: a killed generic worker catches up.
- test_redis_loss.py: Redis stops and comes back; no wake-up is lost.
- test_persister_kill.py: SIGKILL of an event persister mid-traffic.
- test_topology_errors.py: each topology mistake stops a real process start.
"""
