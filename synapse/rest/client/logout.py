"""POST /logout and /logout/all: invalidate access tokens and their devices."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.auth import get_access_token_from_request
from synapse.http.servlet import RestServlet, client_patterns

if TYPE_CHECKING:
    from synapse.server import HomeServer


class LogoutRestServlet(RestServlet):
    """POST /_matrix/client/v3/logout: ends this token's session and deletes its device"""

    PATTERNS = client_patterns("/logout")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._auth_handler = hs.auth_handler
        self._device_handler = hs.device_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        if requester.device_id is not None:
            await self._device_handler.delete_devices(requester.user_id, [requester.device_id])
        token = get_access_token_from_request(request)
        assert token is not None
        await self._auth_handler.delete_access_token(token)
        return 200, {}


class LogoutAllRestServlet(RestServlet):
    """POST /_matrix/client/v3/logout/all: ends every session of the user"""

    PATTERNS = client_patterns("/logout/all")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._auth_handler = hs.auth_handler
        self._device_handler = hs.device_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        await self._device_handler.delete_all_devices_for_user(requester.user_id)
        await self._auth_handler.delete_access_tokens_for_user(requester.user_id)
        return 200, {}
