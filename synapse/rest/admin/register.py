"""Shared-secret registration: GET/POST /_synapse/admin/v1/register.

A script holding `registration_shared_secret` fetches a nonce, then posts
the account with an HMAC over the nonce and the account's fields.
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, parse_json_object_from_request, path_pattern

if TYPE_CHECKING:
    from synapse.server import HomeServer


class UserRegisterServlet(RestServlet):
    """GET /_synapse/admin/v1/register (a nonce) and POST (create the account)"""

    PATTERNS = [path_pattern("/_synapse/admin/v1/register")]

    def __init__(self, hs: "HomeServer") -> None:
        self._registration_handler = hs.registration_handler

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        return 200, {"nonce": await self._registration_handler.new_registration_nonce()}

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        body = parse_json_object_from_request(request)
        return 200, await self._registration_handler.register_with_shared_secret(body)
