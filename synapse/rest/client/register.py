"""POST /register (with user-interactive auth) and GET /register/available."""

from typing import TYPE_CHECKING, Any, Optional

from twisted.web.server import Request

from synapse.api.auth import get_client_ip
from synapse.api.errors import Codes, SynapseError
from synapse.handlers.auth import LoginType, UIAuthRequired, check_password_param
from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request, parse_string

if TYPE_CHECKING:
    from synapse.server import HomeServer

# session key remembering who a completed registration session created, so
# that a client retrying the final step gets logged in instead of an error
_REGISTERED_USER = "registered_user_id"
_PASSWORD_HASH = "password_hash"


class RegisterRestServlet(RestServlet):
    """POST /_matrix/client/v3/register?kind=user|guest"""

    PATTERNS = client_patterns("/register")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._config = hs.config.registration
        self._auth_handler = hs.auth_handler
        self._registration_handler = hs.registration_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        body = parse_json_object_from_request(request)
        kind = parse_string(request, "kind", default="user", allowed_values=("user", "guest"))
        _check_login_params(body)
        client_ip = get_client_ip(request)
        self._registration_handler.ratelimiter.ratelimit(client_ip, update=False)
        if kind == "guest":
            return await self._register_guest(body, client_ip)

        if not self._config.enable_registration:
            raise SynapseError(403, "Registration has been disabled", Codes.FORBIDDEN)
        if not self._config.enable_registration_without_verification:
            # tokens, captchas and 3pid verification are not implemented here
            raise SynapseError(403, "Registration requires verification this server does not offer", Codes.FORBIDDEN)
        if not self._auth_handler.password_enabled:
            raise SynapseError(403, "Password registration is disabled", Codes.FORBIDDEN)

        password_hash: Optional[str] = None
        if "password" in body:
            password_hash = await self._auth_handler.hash_password(check_password_param(body["password"]))
        if "username" in body:
            await self._registration_handler.check_username(_lower_username(body["username"]))

        try:
            _, params, session_id = await self._auth_handler.check_ui_auth([[LoginType.DUMMY]], request, body)
        except UIAuthRequired as e:
            if password_hash is not None:
                await self._auth_handler.set_session_data(e.additional_fields["session"], _PASSWORD_HASH, password_hash)
            raise

        user_id = await self._auth_handler.get_session_data(session_id, _REGISTERED_USER)
        if user_id is None:
            if password_hash is None:
                password_hash = await self._auth_handler.get_session_data(session_id, _PASSWORD_HASH)
            if password_hash is None:
                raise SynapseError(400, "Missing params: password", Codes.MISSING_PARAM)
            username = params.get("username")
            user_id = await self._registration_handler.register_user(
                _lower_username(username) if username is not None else None, password_hash
            )
            await self._auth_handler.set_session_data(session_id, _REGISTERED_USER, user_id)
            self._registration_handler.ratelimiter.record_action(client_ip)
        return 200, await self._login_result(user_id, params)

    async def _register_guest(self, body: dict[str, Any], client_ip: str) -> tuple[int, Any]:
        if not self._config.allow_guest_access:
            raise SynapseError(403, "Guest access is disabled", Codes.FORBIDDEN)
        user_id = await self._registration_handler.register_user(None, None, is_guest=True)
        self._registration_handler.ratelimiter.record_action(client_ip)
        return 200, await self._login_result(user_id, body)

    async def _login_result(self, user_id: str, params: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {"user_id": user_id, "home_server": self._hs.hostname}
        if params.get("inhibit_login", False):
            return result
        device_id, token = await self._registration_handler.login_new_user(
            user_id, params.get("device_id"), params.get("initial_device_display_name")
        )
        result["access_token"] = token
        result["device_id"] = device_id
        return result


def _check_login_params(body: dict[str, Any]) -> None:
    """Rejects bad login options before anything is created."""
    if not isinstance(body.get("inhibit_login", False), bool):
        raise SynapseError(400, "'inhibit_login' must be a boolean", Codes.BAD_JSON)
    if not isinstance(body.get("device_id", ""), str):
        raise SynapseError(400, "'device_id' must be a string", Codes.BAD_JSON)
    if not isinstance(body.get("initial_device_display_name", ""), str):
        raise SynapseError(400, "'initial_device_display_name' must be a string", Codes.BAD_JSON)


class RegisterAvailableRestServlet(RestServlet):
    """GET /_matrix/client/v3/register/available?username=..."""

    PATTERNS = client_patterns("/register/available")

    def __init__(self, hs: "HomeServer") -> None:
        self._config = hs.config.registration
        self._registration_handler = hs.registration_handler

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        if not self._config.enable_registration:
            raise SynapseError(403, "Registration has been disabled", Codes.FORBIDDEN)
        username = parse_string(request, "username", required=True)
        await self._registration_handler.check_username(username)
        return 200, {"available": True}


def _lower_username(username: Any) -> str:
    """Synapse registers lower-cased localparts whatever case the client sent."""
    if not isinstance(username, str):
        raise SynapseError(400, "'username' must be a string", Codes.INVALID_USERNAME)
    return username.lower()
