"""GET/POST /_matrix/client/v3/login: password login onto a new or existing device."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.auth import get_client_ip
from synapse.api.errors import Codes, SynapseError
from synapse.handlers.auth import LoginType
from synapse.http.servlet import RestServlet, assert_params_in_dict, client_patterns, parse_json_object_from_request

if TYPE_CHECKING:
    from synapse.server import HomeServer


class LoginRestServlet(RestServlet):
    """GET /_matrix/client/v3/login (the supported flows) and POST (log in)"""

    PATTERNS = client_patterns("/login", versions=("api/v1", "r0", "v3"))

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._auth_handler = hs.auth_handler
        self._device_handler = hs.device_handler

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        flows = [{"type": LoginType.PASSWORD}] if self._auth_handler.password_enabled else []
        return 200, {"flows": flows}

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        body = parse_json_object_from_request(request)
        assert_params_in_dict(body, ["type"])
        self._auth_handler.login_address_ratelimiter.ratelimit(get_client_ip(request))
        if body["type"] != LoginType.PASSWORD or not self._auth_handler.password_enabled:
            raise SynapseError(400, "Unknown login type", Codes.UNKNOWN)
        device_id = body.get("device_id")
        if device_id is not None and not isinstance(device_id, str):
            raise SynapseError(400, "'device_id' must be a string", Codes.BAD_JSON)
        display_name = body.get("initial_device_display_name")

        user_id = await self._auth_handler.check_password_login(body)
        self._auth_handler.login_account_ratelimiter.ratelimit(user_id.lower())
        device_id = await self._device_handler.check_device_registered(user_id, device_id, display_name)
        token = await self._auth_handler.create_access_token(user_id, device_id)
        return 200, {
            "user_id": user_id,
            "access_token": token,
            "device_id": device_id,
            "home_server": self._hs.hostname,
        }
