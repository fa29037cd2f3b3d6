"""GET /_synapse/replication/health

What this process knows about replication, for operators and probes:
the bus state (connected, reconnects, seconds since the last message, the
instances heard from), each stream's token and per-writer positions with
the lag of the token behind the furthest writer, and the `caches` stream's
per-instance positions. Answers 200 while the bus is connected, 503 (same
body) otherwise; the plain `/health` stays 200 whenever the process serves
HTTP. Mounted on `replication` and `client` listeners.
"""

from typing import Any

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, path_pattern

HEALTH_PATH = "/_synapse/replication/health"


class ReplicationHealthServlet(RestServlet):
    PATTERNS = [path_pattern(HEALTH_PATH)]

    def __init__(self, hs: Any) -> None:
        self._hs = hs

    async def on_GET(self, request: Request) -> tuple[int, dict[str, Any]]:
        report = replication_health(self._hs)
        return (200 if report["bus"]["connected"] else 503), report


def replication_health(hs: Any) -> dict[str, Any]:
    """The report served by `ReplicationHealthServlet` (see the module docstring)."""
    now = hs.clock.time()
    state = hs.replication_bus.state()
    positions = hs.replication_positions
    streams = {
        name: {
            "token": gen.get_current_token(),
            "positions": gen.get_positions(),
            "lag": positions.stream_lag(name),
        }
        for name, gen in hs.id_generators.items()
    }
    if hs.cache_stream is not None:
        streams["caches"] = {"positions": hs.cache_stream.positions()}
    return {
        "instance": hs.instance_name,
        "bus": {
            "state": state.state,
            "connected": state.connected,
            "reconnects": state.reconnects,
            "last_message_age_s": None if state.last_message_at is None else round(now - state.last_message_at, 3),
            "instances_seen": sorted(state.instances_seen),
        },
        "streams": streams,
    }
