"""The harness's Redis is reachable, shared per session and keeps no data."""

from __future__ import annotations

import os
import socket

import pytest

from tests.support.redis import RedisInfo, ensure_redis


def _command(info: RedisInfo, line: str) -> bytes:
    """Send one inline command and return the raw reply (small replies only)."""
    with socket.create_connection((info.host, info.port), timeout=5) as conn:
        conn.sendall(line.encode() + b"\r\n")
        return conn.recv(4096)


def test_ensure_redis_answers_and_is_shared() -> None:
    info = ensure_redis()
    assert ensure_redis() is info
    assert _command(info, "PING") == b"+PONG\r\n"


def test_throwaway_redis_does_not_persist() -> None:
    info = ensure_redis()
    if os.environ.get("SYNAPSE_TEST_REDIS_HOST"):
        pytest.skip("a developer-provided Redis is configured as its owner likes")
    assert _command(info, "CONFIG GET save") == b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    assert _command(info, "CONFIG GET appendonly") == (
        b"*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    )
