"""Device management: list, show, rename and delete (deleting needs UIA)."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.http.servlet import RestServlet, assert_params_in_dict, client_patterns, parse_json_object_from_request

if TYPE_CHECKING:
    from synapse.server import HomeServer


class DevicesRestServlet(RestServlet):
    """GET /_matrix/client/v3/devices"""

    PATTERNS = client_patterns("/devices")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._device_handler = hs.device_handler

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        return 200, {"devices": await self._device_handler.get_devices(requester.user_id)}


class DeleteDevicesRestServlet(RestServlet):
    """POST /_matrix/client/v3/delete_devices (UIA: m.login.password)"""

    PATTERNS = client_patterns("/delete_devices")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._auth_handler = hs.auth_handler
        self._device_handler = hs.device_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        assert_params_in_dict(body, ["devices"])
        devices = body["devices"]
        if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
            raise SynapseError(400, "'devices' must be a list of device ids", Codes.BAD_JSON)
        await self._auth_handler.validate_user_via_ui_auth(requester, request, body)
        await self._device_handler.delete_devices(requester.user_id, devices)
        return 200, {}


class DeviceRestServlet(RestServlet):
    """GET, PUT and DELETE /_matrix/client/v3/devices/{deviceId}"""

    PATTERNS = client_patterns("/devices/{deviceId}")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._auth_handler = hs.auth_handler
        self._device_handler = hs.device_handler

    async def on_GET(self, request: Request, deviceId: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        return 200, await self._device_handler.get_device(requester.user_id, deviceId)

    async def on_PUT(self, request: Request, deviceId: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        body = parse_json_object_from_request(request)
        await self._device_handler.update_device(requester.user_id, deviceId, body)
        return 200, {}

    async def on_DELETE(self, request: Request, deviceId: str) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        # older clients send no body at all
        body = parse_json_object_from_request(request, allow_empty_body=True)
        await self._auth_handler.validate_user_via_ui_auth(requester, request, body)
        await self._device_handler.delete_devices(requester.user_id, [deviceId])
        return 200, {}
