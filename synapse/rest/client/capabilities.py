"""GET /_matrix/client/v3/capabilities: what this server lets clients change."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.http.servlet import RestServlet, client_patterns

if TYPE_CHECKING:
    from synapse.server import HomeServer


class CapabilitiesRestServlet(RestServlet):
    """GET /_matrix/client/v3/capabilities"""

    PATTERNS = client_patterns("/capabilities")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._auth = hs.auth

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        await self._auth.get_user_by_req(request, allow_guest=True)
        config = self._hs.config
        return 200, {
            "capabilities": {
                "m.room_versions": {
                    "default": config.server.default_room_version.identifier,
                    "available": {version: "stable" for version in KNOWN_ROOM_VERSIONS},
                },
                "m.change_password": {"enabled": config.registration.password_enabled},
                # m.set_displayname / m.set_avatar_url are superseded by
                # m.profile_fields (spec v1.16) but older clients read them
                "m.profile_fields": {"enabled": True},
                "m.set_displayname": {"enabled": True},
                "m.set_avatar_url": {"enabled": True},
                "m.3pid_changes": {"enabled": False},
                "m.get_login_token": {"enabled": False},
            }
        }
