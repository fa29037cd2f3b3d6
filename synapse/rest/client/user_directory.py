"""User directory search (CS API "User directory")."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request

if TYPE_CHECKING:
    from synapse.server import HomeServer

DEFAULT_LIMIT = 10


class UserDirectorySearchRestServlet(RestServlet):
    """POST /_matrix/client/v3/user_directory/search: {search_term, limit?}
    -> {results: [{user_id, display_name?, avatar_url?}], limited}"""

    PATTERNS = client_patterns("/user_directory/search", unstable=True)

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.user_directory_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        term = body.get("search_term")
        if not isinstance(term, str):
            raise SynapseError(400, "'search_term' must be a string", Codes.BAD_JSON)
        limit = body.get("limit", DEFAULT_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise SynapseError(400, "'limit' must be an integer", Codes.BAD_JSON)
        return 200, await self._handler.search(requester.user_id, term, limit)
