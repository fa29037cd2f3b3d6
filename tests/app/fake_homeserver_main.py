"""Runs the real app entry path with a fake HomeServer (for test_app_process.py).

Usage: python tests/app/fake_homeserver_main.py [--worker] <app args...>
The fake prints "setup", "shutdown" lines to stdout so the test can see the
lifecycle, and serves /_matrix/fake on its listener resources.
"""

import sys

from twisted.web.resource import Resource

from synapse.app._base import run_main


class Text(Resource):
    """A leaf answering GET with fixed text."""

    isLeaf = True

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def render_GET(self, request):
        return self.body


class FakeHomeServer:
    def __init__(self, config, reactor):
        self.config = config
        self.reactor = reactor

    async def setup(self):
        print("setup", flush=True)

    def build_listener_resource(self, names):
        root = Resource()
        matrix = Resource()
        root.putChild(b"_matrix", matrix)
        matrix.putChild(b"fake", Text(("names=" + ",".join(names)).encode()))
        return root

    async def shutdown(self):
        print("shutdown", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    worker = bool(args) and args[0] == "--worker"
    if worker:
        args = args[1:]
    sys.exit(run_main(args, description="fake", worker=worker, hs_factory=FakeHomeServer))
