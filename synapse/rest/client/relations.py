"""Relations and threads servlets (CS API v1)."""

from typing import TYPE_CHECKING, Any, Optional

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, client_patterns, parse_boolean, parse_integer, parse_string

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]

_VERSIONS = ("v1",)


class RelationsServlet(RestServlet):
    """GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]: the
    events relating to an event (from, to, limit, dir, recurse)."""

    PATTERNS = [
        *client_patterns("/rooms/{roomId}/relations/{eventId}", versions=_VERSIONS, unstable=True),
        *client_patterns("/rooms/{roomId}/relations/{eventId}/{relType}", versions=_VERSIONS, unstable=True),
        *client_patterns(
            "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}", versions=_VERSIONS, unstable=True
        ),
    ]

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(
        self,
        request: Request,
        roomId: str,
        eventId: str,
        relType: Optional[str] = None,
        eventType: Optional[str] = None,
    ) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        result = await self._hs.relations_handler.get_relations(
            requester,
            roomId,
            eventId,
            relation_type=relType,
            event_type=eventType,
            from_token=parse_string(request, "from"),
            to_token=parse_string(request, "to"),
            direction=parse_string(request, "dir", default="b", allowed_values=("b", "f")) or "b",
            limit=parse_integer(request, "limit"),
            recurse=bool(parse_boolean(request, "recurse", default=False)),
        )
        return 200, result


class ThreadsServlet(RestServlet):
    """GET /rooms/{roomId}/threads: thread roots, most recently active first (include, from, limit)."""

    PATTERNS = client_patterns("/rooms/{roomId}/threads", versions=_VERSIONS)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request, roomId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        result = await self._hs.relations_handler.get_threads(
            requester,
            roomId,
            include=parse_string(request, "include", default="all", allowed_values=("all", "participated")) or "all",
            from_token=parse_string(request, "from"),
            limit=parse_integer(request, "limit"),
        )
        return 200, result
