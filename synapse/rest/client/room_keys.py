"""Server-side room key backups: versions and keys.

Thin servlets over hs.room_keys_handler (synapse/handlers/room_keys.py).
Every /room_keys/keys variant takes the backup `version` query parameter.
"""

from typing import TYPE_CHECKING, Any, Optional

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.handlers.room_keys import check_key_backup_data
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request, parse_string

if TYPE_CHECKING:
    from synapse.server import HomeServer


def _version_param(request: Request) -> str:
    version = parse_string(request, "version", required=True)
    assert version is not None
    return version


def _keys_from_body(
    body: dict[str, Any], room_id: Optional[str], session_id: Optional[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(room, session, KeyBackupData) for each key in a PUT body of any variant."""
    if session_id is not None and room_id is not None:
        return [(room_id, session_id, check_key_backup_data(body))]
    rooms: Any
    if room_id is not None:
        rooms = {room_id: body}
    else:
        rooms = body.get("rooms")
        if not isinstance(rooms, dict):
            raise SynapseError(400, "'rooms' must be an object", Codes.BAD_JSON)
    keys = []
    for room, room_body in rooms.items():
        sessions = room_body.get("sessions") if isinstance(room_body, dict) else None
        if not isinstance(sessions, dict):
            raise SynapseError(400, f"'sessions' of room {room} must be an object", Codes.BAD_JSON)
        keys += [(room, session, check_key_backup_data(key)) for session, key in sessions.items()]
    return keys


class RoomKeysServlet(RestServlet):
    """PUT, GET and DELETE /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]?version="""

    PATTERNS = (
        client_patterns("/room_keys/keys")
        + client_patterns("/room_keys/keys/{roomId}")
        + client_patterns("/room_keys/keys/{roomId}/{sessionId}")
    )

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.room_keys_handler

    async def on_PUT(
        self, request: Request, roomId: Optional[str] = None, sessionId: Optional[str] = None
    ) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        version = _version_param(request)
        body = parse_json_object_from_request(request)
        keys = _keys_from_body(body, roomId, sessionId)
        return 200, await self._handler.upload_room_keys(requester.user_id, version, keys)

    async def on_GET(
        self, request: Request, roomId: Optional[str] = None, sessionId: Optional[str] = None
    ) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        version = _version_param(request)
        return 200, await self._handler.get_room_keys(requester.user_id, version, roomId, sessionId)

    async def on_DELETE(
        self, request: Request, roomId: Optional[str] = None, sessionId: Optional[str] = None
    ) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        version = _version_param(request)
        return 200, await self._handler.delete_room_keys(requester.user_id, version, roomId, sessionId)


class RoomKeysNewVersionServlet(RestServlet):
    """POST and GET /_matrix/client/v3/room_keys/version (create; the current backup)"""

    PATTERNS = client_patterns("/room_keys/version")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.room_keys_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        return 200, {"version": await self._handler.create_version(requester.user_id, body)}

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        return 200, await self._handler.get_version_info(requester.user_id, None)


class RoomKeysVersionServlet(RestServlet):
    """GET, PUT and DELETE /_matrix/client/v3/room_keys/version/{version}"""

    PATTERNS = client_patterns("/room_keys/version/{version}")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.room_keys_handler

    async def on_GET(self, request: Request, version: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        return 200, await self._handler.get_version_info(requester.user_id, version)

    async def on_PUT(self, request: Request, version: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        await self._handler.update_version(requester.user_id, version, body)
        return 200, {}

    async def on_DELETE(self, request: Request, version: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        await self._handler.delete_version(requester.user_id, version)
        return 200, {}
