"""GET/PUT /presence/{userId}/status (CS API "Presence")."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import AuthError, Codes, SynapseError
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request
from synapse.streams.presence_state import STATES

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


class PresenceStatusServlet(RestServlet):
    """GET and PUT /presence/{userId}/status; writes go to the presence writer."""

    PATTERNS = client_patterns("/presence/{userId}/status", versions=("api/v1", "r0", "v3"), unstable=True)

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request, userId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        return 200, await self._hs.presence_handler.get_presence(requester.user_id, userId)

    async def on_PUT(self, request: Request, userId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        if requester.user_id != userId:
            raise AuthError(403, "Cannot set the presence of another user")
        content = parse_json_object_from_request(request)
        presence = content.get("presence")
        if presence not in STATES:
            raise SynapseError(400, f"'presence' must be one of {', '.join(STATES)}", Codes.INVALID_PARAM)
        status_msg = content.get("status_msg")
        if status_msg is not None and not isinstance(status_msg, str):
            raise SynapseError(400, "'status_msg' must be a string", Codes.INVALID_PARAM)
        await self._hs.presence_handler.set_presence(userId, presence, status_msg)
        return 200, {}
