"""Reading a room: /messages, /context, a single event, members, joined rooms, room initialSync."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.filtering import parse_room_event_filter_param
from synapse.handlers.pagination import MEMBERSHIPS
from synapse.http.servlet import RestServlet, client_patterns, parse_integer, parse_string

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]

# the prefixes the legacy endpoints were also served under
LEGACY_VERSIONS = ("api/v1", "r0", "v3")


def _patterns(path: str) -> list:
    return client_patterns(path, versions=LEGACY_VERSIONS, unstable=True)


class _Servlet(RestServlet):
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs


class RoomMessagesServlet(_Servlet):
    """GET /rooms/{roomId}/messages: a page of history from `from` in direction `dir`."""

    PATTERNS = _patterns("/rooms/{roomId}/messages")

    async def on_GET(self, request: Request, roomId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        direction = parse_string(request, "dir", default="b", allowed_values=("b", "f"))
        result = await self._hs.pagination_handler.get_messages(
            requester,
            roomId,
            from_token=parse_string(request, "from"),
            to_token=parse_string(request, "to"),
            direction=direction,
            limit=parse_integer(request, "limit"),
            event_filter=parse_room_event_filter_param(parse_string(request, "filter")),
        )
        return 200, result


class RoomContextServlet(_Servlet):
    """GET /rooms/{roomId}/context/{eventId}: events around one event, and the state there."""

    PATTERNS = _patterns("/rooms/{roomId}/context/{eventId}")

    async def on_GET(self, request: Request, roomId: str, eventId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        result = await self._hs.pagination_handler.get_event_context(
            requester,
            roomId,
            eventId,
            limit=parse_integer(request, "limit", default=10) or 0,
            event_filter=parse_room_event_filter_param(parse_string(request, "filter")),
        )
        return 200, result


class RoomEventServlet(_Servlet):
    """GET /rooms/{roomId}/event/{eventId}: one event, if the user may see it."""

    PATTERNS = _patterns("/rooms/{roomId}/event/{eventId}")

    async def on_GET(self, request: Request, roomId: str, eventId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        return 200, await self._hs.pagination_handler.get_event(requester, roomId, eventId)


class RoomMembersServlet(_Servlet):
    """GET /rooms/{roomId}/members: member events, as of `at`, by membership."""

    PATTERNS = _patterns("/rooms/{roomId}/members")

    async def on_GET(self, request: Request, roomId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        result = await self._hs.pagination_handler.get_members(
            requester,
            roomId,
            at=parse_string(request, "at"),
            membership=parse_string(request, "membership", allowed_values=MEMBERSHIPS),
            not_membership=parse_string(request, "not_membership", allowed_values=MEMBERSHIPS),
        )
        return 200, result


class JoinedMembersServlet(_Servlet):
    """GET /rooms/{roomId}/joined_members: {joined: {user: {display_name, avatar_url}}}."""

    PATTERNS = _patterns("/rooms/{roomId}/joined_members")

    async def on_GET(self, request: Request, roomId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        return 200, await self._hs.pagination_handler.get_joined_members(requester, roomId)


class JoinedRoomsServlet(_Servlet):
    """GET /joined_rooms: the rooms the user is joined to."""

    PATTERNS = _patterns("/joined_rooms")

    async def on_GET(self, request: Request) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        return 200, await self._hs.pagination_handler.get_joined_rooms(requester)


class RoomInitialSyncServlet(_Servlet):
    """GET /rooms/{roomId}/initialSync: legacy snapshot of one room."""

    PATTERNS = client_patterns("/rooms/{roomId}/initialSync", versions=LEGACY_VERSIONS)

    async def on_GET(self, request: Request, roomId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request, allow_guest=True)
        limit = parse_integer(request, "limit", default=10) or 0
        return 200, await self._hs.initial_sync_handler.room_initial_sync(requester, roomId, limit)
