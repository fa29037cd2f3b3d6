"""The calling side of replication HTTP calls.

`await client.call(Endpoint, instance_name, payload, **path_args)` sends
the call to the instance's replication listener from `instance_map` (TCP,
TLS or a UNIX socket) with `worker_replication_secret` as a Bearer token,
and returns the answer's body once this process has caught up with the
positions the call wrote, so the caller reads its own writes.

Connection failures and 502/503/504 are retried with the same transaction
id: if the first attempt did reach the server, the server replays its
answer instead of writing twice. Any other error answer is raised as a
SynapseError with the remote code and errcode, so it reaches the client
unchanged.
"""

import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any

import treq
from twisted.internet import defer
from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.internet.error import ConnectError, DNSLookupError
from twisted.web._newclient import RequestTransmissionFailed, ResponseFailed
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IAgent, IAgentEndpointFactory
from zope.interface import implementer

from synapse.api.errors import Codes, SynapseError
from synapse.config.workers import InstanceLocation, InstanceUnixLocation
from synapse.replication.http.endpoint import JsonDict, ReplicationEndpoint
from synapse.replication.positions import DEFAULT_WAIT_TIMEOUT_S, ReplicationPositions
from synapse.util.clock import Clock

logger = logging.getLogger(__name__)

_RETRIABLE_ERRORS = (
    ConnectError,
    DNSLookupError,
    ResponseFailed,
    RequestTransmissionFailed,
    defer.CancelledError,
    defer.TimeoutError,
)
_RETRIABLE_CODES = (502, 503, 504)


class ReplicationClient:
    def __init__(
        self,
        reactor: Any,
        instance_map: Mapping[str, InstanceLocation],
        secret: str | None,
        positions: ReplicationPositions,
        *,
        request_timeout: float = 60.0,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT_S,
        max_attempts: int = 6,
        initial_retry_delay: float = 0.2,
        max_retry_delay: float = 5.0,
    ) -> None:
        self._reactor = reactor
        self._clock = Clock(reactor)
        self._instance_map = instance_map
        self._secret = secret
        self._positions = positions
        self._request_timeout = request_timeout
        self._wait_timeout = wait_timeout
        self._max_attempts = max_attempts
        self._initial_retry_delay = initial_retry_delay
        self._max_retry_delay = max_retry_delay
        # one pool per instance: UNIX socket instances all look like "localhost"
        self._pools: dict[str, HTTPConnectionPool] = {}
        self._agents: dict[str, IAgent] = {}

    async def call(
        self, endpoint: type[ReplicationEndpoint], instance_name: str, payload: JsonDict, **path_args: str
    ) -> JsonDict:
        """Makes the call on `instance_name`; see the module docstring."""
        location = self._instance_map.get(instance_name)
        if location is None:
            logger.error("Cannot call %s on %r: it is not in instance_map", endpoint.NAME, instance_name)
            raise SynapseError(502, f"Instance {instance_name!r} is not in instance_map", Codes.UNKNOWN)
        path = endpoint.path(secrets.token_urlsafe(12), **path_args)
        code, body = await self._send_with_retries(endpoint, instance_name, location, path, payload)
        if not 200 <= code < 300:
            extra = {k: v for k, v in body.items() if k not in ("errcode", "error")}
            message = str(body.get("error", f"{endpoint.NAME} failed"))
            raise SynapseError(code, message, str(body.get("errcode", Codes.UNKNOWN)), additional_fields=extra)
        await self._wait_for_positions(endpoint, body.pop("positions", {}))
        return body

    async def _send_with_retries(
        self, endpoint: type[ReplicationEndpoint], instance: str, location: InstanceLocation, path: str, payload: JsonDict
    ) -> tuple[int, JsonDict]:
        agent = self._agent_for(instance, location)
        base = "http://localhost" if isinstance(location, InstanceUnixLocation) else f"{location.scheme()}://{location.netloc()}"
        headers: dict[bytes | str, list[bytes | str]] = {b"Content-Type": [b"application/json"]}
        if self._secret:
            headers[b"Authorization"] = [b"Bearer " + self._secret.encode()]
        data = json.dumps(payload).encode("utf-8")
        delay = self._initial_retry_delay
        attempt = 1
        while True:
            try:
                response = await treq.request(
                    endpoint.METHOD, base + path, data=data, headers=headers, agent=agent,
                    timeout=self._request_timeout, reactor=self._reactor,
                )
                raw = await treq.content(response)
                code = response.code
                failure = f"HTTP {code}" if code in _RETRIABLE_CODES else None
            except _RETRIABLE_ERRORS as e:
                code, raw, failure = 0, b"", f"{type(e).__name__}: {e}"
            if failure is None:
                return code, _parse_body(raw, code)
            if attempt >= self._max_attempts:
                logger.error("%s on %s failed after %d attempts: %s", endpoint.NAME, instance, attempt, failure)
                raise SynapseError(502, f"Failed to reach {instance} for {endpoint.NAME}", Codes.UNKNOWN)
            logger.warning("%s on %s failed (%s); retry %d in %.1fs", endpoint.NAME, instance, failure, attempt, delay)
            await self._clock.sleep(delay)
            delay = min(self._max_retry_delay, delay * 2)
            attempt += 1

    async def _wait_for_positions(self, endpoint: type[ReplicationEndpoint], positions: Any) -> None:
        if not isinstance(positions, dict):
            logger.warning("%s answered with bad positions %r", endpoint.NAME, positions)
            return
        for stream, writers in positions.items():
            if not isinstance(writers, dict):
                logger.warning("%s answered with bad positions %r", endpoint.NAME, positions)
                continue
            for instance, position in writers.items():
                if isinstance(position, int):
                    await self._positions.wait_for_position(stream, instance, position, timeout=self._wait_timeout)

    def _agent_for(self, instance: str, location: InstanceLocation) -> IAgent:
        agent = self._agents.get(instance)
        if agent is None:
            pool = self._pools[instance] = HTTPConnectionPool(self._reactor, persistent=True)
            if isinstance(location, InstanceUnixLocation):
                endpoints = _UnixEndpointFactory(self._reactor, location.path)
                agent = Agent.usingEndpointFactory(self._reactor, endpoints, pool=pool)
            else:
                agent = Agent(self._reactor, pool=pool)
            self._agents[instance] = agent
        return agent

    async def close(self) -> None:
        """Closes kept-alive connections (at shutdown, and in tests)."""
        for pool in self._pools.values():
            await pool.closeCachedConnections()


@implementer(IAgentEndpointFactory)
class _UnixEndpointFactory:
    def __init__(self, reactor: Any, path: str) -> None:
        self._reactor = reactor
        self._path = path

    def endpointForURI(self, uri: Any) -> UNIXClientEndpoint:
        return UNIXClientEndpoint(self._reactor, self._path)


def _parse_body(raw: bytes, code: int) -> JsonDict:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        logger.error("Replication answer (HTTP %d) is not a JSON object: %r", code, raw[:200])
        raise SynapseError(502, "Bad answer from another process", Codes.UNKNOWN)
    return body
