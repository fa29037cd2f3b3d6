"""End-to-end tests against a real homeserver process.

conftest.py       fixtures: homeserver_sqlite, homeserver_postgres, homeserver
                  (both databases), homeserver_factory (private servers)
rawhttp.py        urllib requests for exact wire-level checks
test_nio_client.py        two matrix-nio clients: register, rooms, sync, history
test_bad_input.py         malformed and unauthorised requests -> spec errcodes
test_server_process.py    sd_notify readiness and clean SIGTERM shutdown
test_support_redis.py     the harness's throwaway Redis (tests/support/redis.py)
test_harness_config.py    config_overrides and ratelimited reach the server
"""
