"""Helpers for replication tests: waiting for a condition, building buses."""

import uuid
from collections.abc import Callable
from typing import Any

from twisted.internet import reactor

from synapse.config.redis import RedisConfig
from synapse.replication.redis import RedisReplicationBus
from synapse.util.clock import Clock


async def eventually(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    """Polls `predicate` on the reactor until it is truthy, or fails."""
    clock = Clock(reactor)  # type: ignore[arg-type]
    deadline = clock.time() + timeout
    while not predicate():
        if clock.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await clock.sleep(0.02)


def redis_config(host: str, port: int) -> RedisConfig:
    return RedisConfig(enabled=True, host=host, port=port, path=None, password=None, dbid=None, use_tls=False)


def unique_server_name() -> str:
    """A server name of its own per test, so tests on the shared Redis never
    hear each other's channel."""
    return f"test-{uuid.uuid4().hex[:10]}.example"


def make_bus(server_name: str, instance: str, host: str, port: int, **kwargs: Any) -> RedisReplicationBus:
    return RedisReplicationBus(reactor, server_name, instance, redis_config(host, port), **kwargs)


class Recorder:
    """A bus subscriber that remembers what it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, int]] = []

    def __call__(self, instance: str, position: int) -> None:
        self.heard.append((instance, position))

    def latest(self, instance: str) -> int:
        return max((p for i, p in self.heard if i == instance), default=-1)
