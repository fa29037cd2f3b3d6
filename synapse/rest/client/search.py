"""Server-side search servlet."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request, parse_string

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


class SearchRestServlet(RestServlet):
    """POST /search: full-text search of the rooms the user may read (`next_batch` query parameter pages)."""

    PATTERNS = client_patterns("/search", versions=("api/v1", "r0", "v3"), unstable=True)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_POST(self, request: Request) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        next_batch = parse_string(request, "next_batch")
        return 200, await self._hs.search_handler.search(requester, body, next_batch)
