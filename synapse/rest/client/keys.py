"""End-to-end encryption keys: upload, query, claim, changes, cross-signing.

Thin servlets over hs.e2e_keys_handler (synapse/handlers/e2e_keys.py).
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, client_patterns, parse_json_object_from_request, parse_string

if TYPE_CHECKING:
    from synapse.server import HomeServer


class KeyUploadServlet(RestServlet):
    """POST /_matrix/client/v3/keys/upload"""

    PATTERNS = client_patterns("/keys/upload")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.e2e_keys_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        body = parse_json_object_from_request(request)
        return 200, await self._handler.upload_keys(requester, body)


class KeyQueryServlet(RestServlet):
    """POST /_matrix/client/v3/keys/query"""

    PATTERNS = client_patterns("/keys/query")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.e2e_keys_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        body = parse_json_object_from_request(request)
        return 200, await self._handler.query_keys(requester, body)


class KeyClaimServlet(RestServlet):
    """POST /_matrix/client/v3/keys/claim"""

    PATTERNS = client_patterns("/keys/claim")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.e2e_keys_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        await self._auth.get_user_by_req(request, allow_guest=True)
        body = parse_json_object_from_request(request)
        return 200, await self._handler.claim_keys(body)


class KeyChangesServlet(RestServlet):
    """GET /_matrix/client/v3/keys/changes?from=&to="""

    PATTERNS = client_patterns("/keys/changes")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.e2e_keys_handler

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        from_token = parse_string(request, "from", required=True)
        to_token = parse_string(request, "to", required=True)
        assert from_token is not None and to_token is not None
        return 200, await self._handler.get_key_changes(requester, from_token, to_token)


class SigningKeyUploadServlet(RestServlet):
    """POST /_matrix/client/v3/keys/device_signing/upload (UIA: m.login.password,
    except for a user's first upload or a repeat of the stored keys)"""

    PATTERNS = client_patterns("/keys/device_signing/upload")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._auth_handler = hs.auth_handler
        self._handler = hs.e2e_keys_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        if await self._handler.cross_signing_keys_need_uia(requester.user_id, body):
            await self._auth_handler.validate_user_via_ui_auth(requester, request, body)
        keys = {k: v for k, v in body.items() if k != "auth"}
        await self._handler.upload_cross_signing_keys(requester.user_id, keys)
        return 200, {}


class SignaturesUploadServlet(RestServlet):
    """POST /_matrix/client/v3/keys/signatures/upload"""

    PATTERNS = client_patterns("/keys/signatures/upload")

    def __init__(self, hs: "HomeServer") -> None:
        self._auth = hs.auth
        self._handler = hs.e2e_keys_handler

    async def on_POST(self, request: Request) -> tuple[int, Any]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        return 200, await self._handler.upload_signatures(requester, body)
