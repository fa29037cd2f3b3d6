"""GET /sync (CS API "Syncing")."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.handlers.sync import SyncRequest
from synapse.http.servlet import RestServlet, client_patterns, parse_boolean, parse_integer, parse_string
from synapse.streams.tokens import StreamToken

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]

# A long-poll never holds a request longer than this, whatever the client asks.
MAX_TIMEOUT_MS = 5 * 60 * 1000


class SyncServlet(RestServlet):
    """GET /sync: the user's rooms since `since`, long-polling up to `timeout` ms."""

    PATTERNS = client_patterns("/sync")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        since = parse_string(request, "since")
        timeout = parse_integer(request, "timeout", default=0) or 0
        full_state = parse_boolean(request, "full_state", default=False) or False
        set_presence = parse_string(request, "set_presence", allowed_values=("online", "offline", "unavailable"))
        filter_collection = await self._hs.filtering.resolve_filter_param(
            requester.user_id, parse_string(request, "filter")
        )
        sync_request = SyncRequest(
            requester=requester,
            filter=filter_collection,
            since=StreamToken.from_string(since) if since else None,
            full_state=full_state,
        )
        async with self._hs.presence_handler.syncing(requester.user_id, set_presence):
            body = await self._hs.sync_handler.wait_for_sync_for_user(sync_request, min(timeout, MAX_TIMEOUT_MS))
        return 200, body
