"""Profiles: GET /profile/{userId} and GET/PUT/DELETE /profile/{userId}/{keyName}."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request
from synapse.types import UserID

if TYPE_CHECKING:
    from synapse.server import HomeServer

# profile paths also answer under the legacy /api/v1 prefix, as in Synapse
PROFILE_VERSIONS = ("api/v1", "r0", "v3")


def _check_user_id(user_id: str) -> str:
    UserID.from_string(user_id)  # 400 M_INVALID_PARAM if malformed
    return user_id


class ProfileRestServlet(RestServlet):
    """GET /_matrix/client/v3/profile/{userId} (no authentication)"""

    PATTERNS = client_patterns("/profile/{userId}", versions=PROFILE_VERSIONS)

    def __init__(self, hs: "HomeServer") -> None:
        self._profile_handler = hs.profile_handler

    async def on_GET(self, request: Request, userId: str) -> tuple[int, Any]:
        return 200, await self._profile_handler.get_profile(_check_user_id(userId))


class ProfileFieldRestServlet(RestServlet):
    """GET, PUT and DELETE /_matrix/client/v3/profile/{userId}/{keyName}"""

    PATTERNS = client_patterns("/profile/{userId}/{keyName}", versions=PROFILE_VERSIONS)

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._profile_handler = hs.profile_handler

    async def on_GET(self, request: Request, userId: str, keyName: str) -> tuple[int, Any]:
        value = await self._profile_handler.get_profile_field(_check_user_id(userId), keyName)
        return 200, {keyName: value}

    async def on_PUT(self, request: Request, userId: str, keyName: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        body = parse_json_object_from_request(request)
        if keyName not in body:
            raise SynapseError(400, f"Missing key '{keyName}'", Codes.MISSING_PARAM)
        await self._profile_handler.set_profile_field(requester, _check_user_id(userId), keyName, body[keyName])
        return 200, {}

    async def on_DELETE(self, request: Request, userId: str, keyName: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        await self._profile_handler.delete_profile_field(requester, _check_user_id(userId), keyName)
        return 200, {}
