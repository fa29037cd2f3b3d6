"""PUT /rooms/{roomId}/typing/{userId}: a thin servlet over the typing stream.

The write goes through `hs.stream_writer("typing")`: the stream's own
object on its writer, a replication call elsewhere.
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import AuthError, Codes, SynapseError
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request
from synapse.streams.typing import DEFAULT_TIMEOUT_MS
from synapse.types import is_valid_room_id

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


async def require_joined(hs: "HomeServer", room_id: str, user_id: str) -> None:
    """403 unless `user_id` is joined to `room_id` (400 for a malformed room id)."""
    if not is_valid_room_id(room_id):
        raise SynapseError(400, f"{room_id!r} is not a valid room ID", Codes.INVALID_PARAM)
    membership = await hs.stores.members.get_membership(room_id, user_id)
    if membership is None or membership[0] != "join":
        raise AuthError(403, f"{user_id} is not in the room")


class RoomTypingServlet(RestServlet):
    """PUT /rooms/{roomId}/typing/{userId}"""

    PATTERNS = client_patterns("/rooms/{roomId}/typing/{userId}", versions=("api/v1", "r0", "v3"))

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_PUT(self, request: Request, roomId: str, userId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        if requester.user_id != userId:
            raise AuthError(403, "Cannot set the typing state of another user")
        content = parse_json_object_from_request(request)
        typing = content.get("typing")
        if not isinstance(typing, bool):
            raise SynapseError(400, "'typing' must be a boolean", Codes.BAD_JSON)
        timeout = content.get("timeout", DEFAULT_TIMEOUT_MS)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
            raise SynapseError(400, "'timeout' must be a non-negative integer", Codes.BAD_JSON)
        await require_joined(self._hs, roomId, userId)
        self._hs.presence_handler.bump_active(userId)
        await self._hs.stream_writer("typing").set_typing(
            room_id=roomId, user_id=userId, typing=typing, timeout_ms=timeout
        )
        return 200, {}
