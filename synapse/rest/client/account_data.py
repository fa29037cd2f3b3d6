"""Account data and room tags: thin servlets over the account_data stream.

Writes go through `hs.stream_writer("account_data")`: the stream's own
object on its writer, a replication call elsewhere.
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import AuthError, Codes, NotFoundError, SynapseError
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request
from synapse.streams.account_data import TAG_TYPE
from synapse.types import Requester, is_valid_room_id

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]
# account data the server manages itself: clients may not set it (405 M_BAD_JSON)
SERVER_MANAGED_TYPES = ("m.fully_read", "m.push_rules")


async def _requester_for(hs: "HomeServer", request: Request, user_id: str) -> Requester:
    requester = await hs.auth.get_user_by_req(request)
    if requester.user_id != user_id:
        raise AuthError(403, "Cannot access account data of other users")
    return requester


def _check_room_id(room_id: str) -> None:
    if not is_valid_room_id(room_id):
        raise SynapseError(400, f"{room_id!r} is not a valid room ID", Codes.INVALID_PARAM)


def _check_settable(data_type: str) -> None:
    if data_type in SERVER_MANAGED_TYPES:
        raise SynapseError(405, f"Cannot set {data_type} through this API", Codes.BAD_JSON)


class AccountDataServlet(RestServlet):
    """GET|PUT /user/{userId}/account_data/{type}"""

    PATTERNS = client_patterns("/user/{userId}/account_data/{type}")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request, userId: str, type: str) -> tuple[int, JsonDict]:
        await _requester_for(self._hs, request, userId)
        content = await self._hs.stores.account_data.get_account_data(userId, type)
        if content is None:
            raise NotFoundError("Account data not found")
        return 200, content

    async def on_PUT(self, request: Request, userId: str, type: str) -> tuple[int, JsonDict]:
        await _requester_for(self._hs, request, userId)
        _check_settable(type)
        content = parse_json_object_from_request(request)
        await self._hs.stream_writer("account_data").set_account_data(user_id=userId, data_type=type, content=content)
        return 200, {}


class RoomAccountDataServlet(RestServlet):
    """GET|PUT /user/{userId}/rooms/{roomId}/account_data/{type}"""

    PATTERNS = client_patterns("/user/{userId}/rooms/{roomId}/account_data/{type}")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request, userId: str, roomId: str, type: str) -> tuple[int, JsonDict]:
        await _requester_for(self._hs, request, userId)
        _check_room_id(roomId)
        content = await self._hs.stores.account_data.get_account_data(userId, type, roomId)
        if content is None:
            raise NotFoundError("Room account data not found")
        return 200, content

    async def on_PUT(self, request: Request, userId: str, roomId: str, type: str) -> tuple[int, JsonDict]:
        await _requester_for(self._hs, request, userId)
        _check_room_id(roomId)
        _check_settable(type)
        content = parse_json_object_from_request(request)
        await self._hs.stream_writer("account_data").set_account_data(
            user_id=userId, data_type=type, content=content, room_id=roomId
        )
        return 200, {}


class TagListServlet(RestServlet):
    """GET /user/{userId}/rooms/{roomId}/tags"""

    PATTERNS = client_patterns("/user/{userId}/rooms/{roomId}/tags")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request, userId: str, roomId: str) -> tuple[int, JsonDict]:
        await _requester_for(self._hs, request, userId)
        _check_room_id(roomId)
        content = await self._hs.stores.account_data.get_account_data(userId, TAG_TYPE, roomId)
        tags = (content or {}).get("tags")
        return 200, {"tags": tags if isinstance(tags, dict) else {}}


class TagServlet(RestServlet):
    """PUT|DELETE /user/{userId}/rooms/{roomId}/tags/{tag}"""

    PATTERNS = client_patterns("/user/{userId}/rooms/{roomId}/tags/{tag}")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_PUT(self, request: Request, userId: str, roomId: str, tag: str) -> tuple[int, JsonDict]:
        await _requester_for(self._hs, request, userId)
        _check_room_id(roomId)
        content = parse_json_object_from_request(request)
        order = content.get("order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, (int, float))):
            raise SynapseError(400, "'order' must be a number", Codes.BAD_JSON)
        await self._hs.stream_writer("account_data").add_tag(user_id=userId, room_id=roomId, tag=tag, content=content)
        return 200, {}

    async def on_DELETE(self, request: Request, userId: str, roomId: str, tag: str) -> tuple[int, JsonDict]:
        await _requester_for(self._hs, request, userId)
        _check_room_id(roomId)
        await self._hs.stream_writer("account_data").remove_tag(user_id=userId, room_id=roomId, tag=tag)
        return 200, {}
