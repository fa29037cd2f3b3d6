"""Profiles: GET /profile/{userId} and GET/PUT of displayname and avatar_url."""

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
    """GET /_matrix/client/v3/profile/{userId}"""

    PATTERNS = client_patterns("/profile/{userId}", versions=PROFILE_VERSIONS)

    def __init__(self, hs: "HomeServer") -> None:
        self._profile_handler = hs.profile_handler

    async def on_GET(self, request: Request, userId: str) -> tuple[int, Any]:
        return 200, await self._profile_handler.get_profile(_check_user_id(userId))


class _ProfileFieldServlet(RestServlet):
    """GET/PUT of one profile field; subclasses name the field."""

    FIELD = ""

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._profile_handler = hs.profile_handler

    async def on_GET(self, request: Request, userId: str) -> tuple[int, Any]:
        value = await self._profile_handler.get_profile_field(_check_user_id(userId), self.FIELD)
        return 200, ({self.FIELD: value} if value is not None else {})

    async def on_PUT(self, request: Request, userId: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        body = parse_json_object_from_request(request)
        if self.FIELD not in body:
            raise SynapseError(400, f"Missing key '{self.FIELD}'", Codes.MISSING_PARAM)
        await self._profile_handler.set_profile_field(requester, _check_user_id(userId), self.FIELD, body[self.FIELD])
        return 200, {}


class ProfileDisplaynameRestServlet(_ProfileFieldServlet):
    """GET and PUT /_matrix/client/v3/profile/{userId}/displayname"""

    PATTERNS = client_patterns("/profile/{userId}/displayname", versions=PROFILE_VERSIONS)
    FIELD = "displayname"


class ProfileAvatarURLRestServlet(_ProfileFieldServlet):
    """GET and PUT /_matrix/client/v3/profile/{userId}/avatar_url"""

    PATTERNS = client_patterns("/profile/{userId}/avatar_url", versions=PROFILE_VERSIONS)
    FIELD = "avatar_url"
