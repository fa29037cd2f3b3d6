"""Room directory servlets: aliases, a room's directory visibility, /publicRooms."""

from typing import Any

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.events.model import JsonDict
from synapse.http.servlet import (
    RestServlet,
    assert_params_in_dict,
    client_patterns,
    parse_integer,
    parse_json_object_from_request,
    parse_string,
)


class ClientDirectoryServer(RestServlet):
    """GET/PUT/DELETE /directory/room/{roomAlias}"""

    PATTERNS = client_patterns("/directory/room/{room_alias}")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._handler = hs.directory_handler

    async def on_GET(self, request: Request, room_alias: str) -> tuple[int, JsonDict]:
        return 200, await self._handler.get_association(room_alias)

    async def on_PUT(self, request: Request, room_alias: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        assert_params_in_dict(body, ["room_id"])
        if not isinstance(body["room_id"], str):
            raise SynapseError(400, "'room_id' must be a string", Codes.BAD_JSON)
        await self._handler.create_association(requester, room_alias, body["room_id"])
        return 200, {}

    async def on_DELETE(self, request: Request, room_alias: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request)
        await self._handler.delete_association(requester, room_alias)
        return 200, {}


class RoomAliasListServlet(RestServlet):
    """GET /rooms/{roomId}/aliases"""

    PATTERNS = client_patterns("/rooms/{room_id}/aliases")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._handler = hs.directory_handler

    async def on_GET(self, request: Request, room_id: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request)
        return 200, {"aliases": await self._handler.get_local_aliases(requester, room_id)}


class ClientDirectoryListServer(RestServlet):
    """GET/PUT /directory/list/room/{roomId}"""

    PATTERNS = client_patterns("/directory/list/room/{room_id}")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._handler = hs.directory_handler

    async def on_GET(self, request: Request, room_id: str) -> tuple[int, JsonDict]:
        return 200, {"visibility": await self._handler.get_visibility(room_id)}

    async def on_PUT(self, request: Request, room_id: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request, allow_empty_body=True)
        visibility = body.get("visibility", "public")
        if not isinstance(visibility, str):
            raise SynapseError(400, "'visibility' must be a string", Codes.BAD_JSON)
        await self._handler.set_visibility(requester, room_id, visibility)
        return 200, {}


class PublicRoomListRestServlet(RestServlet):
    """GET/POST /publicRooms"""

    PATTERNS = client_patterns("/publicRooms")

    def __init__(self, hs: Any) -> None:
        self._hs = hs
        self._auth = hs.auth
        self._handler = hs.room_list_handler

    def _check_server(self, server: Any) -> None:
        if server is not None and server != self._hs.hostname:
            raise SynapseError(404, f"Cannot list the rooms of {server}: federation is not available", Codes.NOT_FOUND)

    async def on_GET(self, request: Request) -> tuple[int, JsonDict]:
        self._check_server(parse_string(request, "server"))
        limit = parse_integer(request, "limit")
        since = parse_string(request, "since")
        return 200, await self._handler.get_public_rooms(limit=limit, since=since)

    async def on_POST(self, request: Request) -> tuple[int, JsonDict]:
        await self._auth.get_user_by_req(request, allow_guest=True)
        self._check_server(parse_string(request, "server"))
        body = parse_json_object_from_request(request)
        limit = body.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise SynapseError(400, "'limit' must be a non-negative integer", Codes.INVALID_PARAM)
        since = body.get("since")
        if since is not None and not isinstance(since, str):
            raise SynapseError(400, "'since' must be a string", Codes.INVALID_PARAM)
        search_filter = body.get("filter") or {}
        if not isinstance(search_filter, dict):
            raise SynapseError(400, "'filter' must be an object", Codes.BAD_JSON)
        term = search_filter.get("generic_search_term")
        if term is not None and not isinstance(term, str):
            raise SynapseError(400, "'generic_search_term' must be a string", Codes.INVALID_PARAM)
        room_types = search_filter.get("room_types")
        if room_types is not None and not isinstance(room_types, list):
            raise SynapseError(400, "'room_types' must be a list", Codes.INVALID_PARAM)
        return 200, await self._handler.get_public_rooms(
            limit=limit, since=since, search_term=term, room_types=room_types
        )
