"""Filter upload and download (CS API "Filtering")."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import AuthError, Codes
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


async def _check_owner(hs: "HomeServer", request: Request, user_id: str) -> str:
    requester = await hs.auth.get_user_by_req(request)
    if requester.user_id != user_id:
        raise AuthError(403, "Cannot use filters of other users", Codes.FORBIDDEN)
    return user_id


class CreateFilterServlet(RestServlet):
    """POST /user/{userId}/filter: stores a filter, answers its id as a string."""

    PATTERNS = client_patterns("/user/{userId}/filter", unstable=True)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_POST(self, request: Request, userId: str) -> tuple[int, JsonDict]:
        user_id = await _check_owner(self._hs, request, userId)
        body = parse_json_object_from_request(request)
        filter_id = await self._hs.filtering.add_user_filter(user_id, body)
        return 200, {"filter_id": str(filter_id)}


class GetFilterServlet(RestServlet):
    """GET /user/{userId}/filter/{filterId}: the filter as uploaded; 404 M_NOT_FOUND if unknown."""

    PATTERNS = client_patterns("/user/{userId}/filter/{filterId}", unstable=True)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request, userId: str, filterId: str) -> tuple[int, JsonDict]:
        user_id = await _check_owner(self._hs, request, userId)
        return 200, await self._hs.filtering.get_user_filter_json(user_id, filterId)
