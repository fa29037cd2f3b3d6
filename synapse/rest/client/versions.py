"""GET /_matrix/client/versions: the spec versions this server speaks."""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.http.servlet import RestServlet, path_pattern

if TYPE_CHECKING:
    from synapse.server import HomeServer

SUPPORTED_VERSIONS = (
    "r0.0.1",
    "r0.1.0",
    "r0.2.0",
    "r0.3.0",
    "r0.4.0",
    "r0.5.0",
    "r0.6.0",
    "r0.6.1",
    *(f"v1.{minor}" for minor in range(1, 17)),
)


class VersionsRestServlet(RestServlet):
    """GET /_matrix/client/versions (no authentication)"""

    PATTERNS = [path_pattern("/_matrix/client/versions")]

    def __init__(self, hs: "HomeServer") -> None:
        pass

    async def on_GET(self, request: Request) -> tuple[int, Any]:
        return 200, {"versions": list(SUPPORTED_VERSIONS), "unstable_features": {}}
