"""Account management: whoami, password change and deactivation."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.handlers.auth import check_password_param
from synapse.http.servlet import RestServlet, assert_params_in_dict, client_patterns, parse_json_object_from_request

if TYPE_CHECKING:
    from synapse.server import HomeServer


class WhoamiRestServlet(RestServlet):
    """GET /_matrix/client/v3/account/whoami"""

    PATTERNS = client_patterns("/account/whoami")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        result: dict[str, Any] = {"user_id": requester.user_id, "is_guest": requester.is_guest}
        if requester.device_id is not None:
            result["device_id"] = requester.device_id
        return 200, result


class PasswordRestServlet(RestServlet):
    """POST /_matrix/client/v3/account/password (UIA: m.login.password)"""

    PATTERNS = client_patterns("/account/password")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._auth_handler = hs.auth_handler
        self._device_handler = hs.device_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        body = parse_json_object_from_request(request)
        requester = await self._auth.get_user_by_req(request)
        if not self._auth_handler.password_enabled:
            raise SynapseError(403, "Password changes are disabled", Codes.FORBIDDEN)
        logout_devices = body.get("logout_devices", True)
        if not isinstance(logout_devices, bool):
            raise SynapseError(400, "'logout_devices' must be a boolean", Codes.BAD_JSON)
        if "new_password" in body:
            check_password_param(body["new_password"], "new_password")
        await self._auth_handler.validate_user_via_ui_auth(requester, request, body)
        assert_params_in_dict(body, ["new_password"])
        await self._auth_handler.set_password(requester.user_id, body["new_password"])
        if logout_devices:
            await self._device_handler.delete_all_devices_for_user(
                requester.user_id, except_device_id=requester.device_id
            )
            await self._auth_handler.delete_access_tokens_for_user(
                requester.user_id, except_token_id=requester.access_token_id
            )
        return 200, {}


class DeactivateAccountRestServlet(RestServlet):
    """POST /_matrix/client/v3/account/deactivate (UIA: m.login.password)"""

    PATTERNS = client_patterns("/account/deactivate")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._auth_handler = hs.auth_handler
        self._deactivate_handler = hs.deactivate_account_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        body = parse_json_object_from_request(request)
        requester = await self._auth.get_user_by_req(request)
        erase = body.get("erase", False)
        if not isinstance(erase, bool):
            raise SynapseError(400, "'erase' must be a boolean", Codes.BAD_JSON)
        await self._auth_handler.validate_user_via_ui_auth(requester, request, body)
        await self._deactivate_handler.deactivate_account(requester.user_id, erase=erase)
        # no identity server bindings exist here, so there was nothing to unbind
        return 200, {"id_server_unbind_result": "success"}
