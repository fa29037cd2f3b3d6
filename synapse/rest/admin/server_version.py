"""GET /_synapse/admin/v1/server_version."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

import synapse
from synapse.http.servlet import RestServlet, path_pattern

if TYPE_CHECKING:
    from synapse.server import HomeServer


class ServerVersionServlet(RestServlet):
    """GET /_synapse/admin/v1/server_version (no authentication, as in Synapse)"""

    PATTERNS = [path_pattern("/_synapse/admin/v1/server_version")]

    def __init__(self, hs: "HomeServer") -> None:
        pass

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        return 200, {"server_version": synapse.__version__}
