"""The serving side of replication HTTP calls.

One subclass of `ReplicationEndpoint` per call. The serving process
constructs it (with whatever its `handle` needs, typically a local stream
writer) and registers it on the replication listener's JsonResource; the
calling process only uses the class, through `ReplicationClient.call`.

`handle(content, **path_args)` returns `(code, body, written)`, `written`
mapping each stream the call wrote to the highest position it wrote there.
The answer then carries `{"positions": {stream: {instance: position}}}`
(this instance), which the caller waits for before using the result.
Positions are what the call wrote, not the writer's current position:
while other writes are in flight, the latter can still be below them.
"""

import hmac
import logging
import re
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from twisted.internet import defer
from twisted.python.failure import Failure
from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.http.server import JsonResource
from synapse.http.servlet import parse_json_object_from_request
from synapse.util.clock import Clock

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

REPLICATION_PREFIX = "/_synapse/replication"
# how long the answer of a call is kept for retries with the same txn id
RESPONSE_CACHE_TTL_S = 30 * 60.0


class ReplicationServer:
    """What every endpoint of one serving process shares: who it is, the
    shared secret, and the answers kept for retried calls."""

    def __init__(self, instance_name: str, secret: str | None, clock: Clock) -> None:
        self.instance_name = instance_name
        self.secret = secret
        self.responses = ResponseCache(clock, RESPONSE_CACHE_TTL_S)

    def check_auth(self, request: Request) -> None:
        """Bearer <worker_replication_secret>, when a secret is configured."""
        if not self.secret:
            return
        header = request.getHeader(b"Authorization")
        if not header:
            raise SynapseError(401, "Missing replication secret", Codes.MISSING_TOKEN)
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.secret.encode()):
            raise SynapseError(403, "Invalid replication secret", Codes.FORBIDDEN)


class ReplicationEndpoint:
    """One replication call; see the module docstring."""

    NAME: ClassVar[str]
    METHOD: ClassVar[str] = "POST"
    PATH_ARGS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, server: ReplicationServer) -> None:
        self._server = server

    async def handle(self, content: JsonDict, **path_args: str) -> tuple[int, JsonDict, Mapping[str, int]]:
        """Does the call on the serving process: `(code, body, {stream: position written})`."""
        raise NotImplementedError(f"{type(self).__name__} is not served by this process")

    # -- paths ---------------------------------------------------------------

    @classmethod
    def path(cls, txn_id: str, **path_args: str) -> str:
        """The request path of one call (values are URL-quoted)."""
        if set(path_args) != set(cls.PATH_ARGS):
            raise TypeError(f"{cls.NAME} takes path args {cls.PATH_ARGS}, got {sorted(path_args)}")
        parts = [cls.NAME, *(path_args[name] for name in cls.PATH_ARGS), txn_id]
        return REPLICATION_PREFIX + "".join("/" + urllib.parse.quote(str(p), safe="") for p in parts)

    @classmethod
    def pattern(cls) -> str:
        if "txn_id" in cls.PATH_ARGS:
            raise ValueError("txn_id is reserved")
        args = "".join(f"/(?P<{name}>[^/]+)" for name in (*cls.PATH_ARGS, "txn_id"))
        return f"^{REPLICATION_PREFIX}/{cls.NAME}{args}$"

    # -- serving -------------------------------------------------------------

    def register(self, resource: JsonResource) -> None:
        if self.METHOD not in ("POST", "PUT"):
            raise ValueError(f"{self.NAME}: replication calls are POST or PUT, not {self.METHOD}")
        resource.register_paths(self.METHOD, [re.compile(self.pattern())], self._serve, type(self).__name__)

    async def _serve(self, request: Request, txn_id: str, **path_args: str) -> tuple[int, JsonDict]:
        self._server.check_auth(request)
        content = parse_json_object_from_request(request, allow_empty_body=True)
        return await self._server.responses.wrap((self.NAME, txn_id), lambda: self._run(content, path_args))

    async def _run(self, content: JsonDict, path_args: dict[str, str]) -> tuple[int, JsonDict]:
        try:
            code, body, written = await self.handle(content, **path_args)
        except SynapseError as e:
            # a refusal is an answer too: a retry must get it again, not a second try
            return e.code, e.error_dict()
        instance = self._server.instance_name
        return code, {**body, "positions": {stream: {instance: pos} for stream, pos in written.items()}}


class ResponseCache:
    """Answers by key for a while, so a retried call is answered, not re-run.
    A call still running is joined; a call that crashed is not kept."""

    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        # key -> (expiry, answer), in expiry order since the ttl is fixed
        self._done: OrderedDict[Any, tuple[float, tuple[int, JsonDict]]] = OrderedDict()
        self._running: dict[Any, list[defer.Deferred[tuple[int, JsonDict]]]] = {}

    async def wrap(self, key: Any, fn: Callable[[], Awaitable[tuple[int, JsonDict]]]) -> tuple[int, JsonDict]:
        self._expire()
        if key in self._done:
            logger.info("Replaying the answer of replication call %s", key)
            return self._done[key][1]
        if key in self._running:
            joined: defer.Deferred[tuple[int, JsonDict]] = defer.Deferred()
            self._running[key].append(joined)
            return await joined
        self._running[key] = []
        try:
            answer = await fn()
        except BaseException:
            failure = Failure()
            for waiter in self._running.pop(key):
                waiter.errback(failure)
            raise
        self._done[key] = (self._clock.time() + self._ttl_s, answer)
        for waiter in self._running.pop(key):
            waiter.callback(answer)
        return answer

    def _expire(self) -> None:
        now = self._clock.time()
        while self._done:
            key, (expiry, _) = next(iter(self._done.items()))
            if expiry > now:
                break
            del self._done[key]
