"""A Redis server for system tests: the developer's, or a throwaway one.

System tests must not depend on a Redis that happens to run on the machine,
so unless SYNAPSE_TEST_REDIS_HOST/SYNAPSE_TEST_REDIS_PORT point at one, the
first call starts a private ``redis-server`` on a free port with persistence
disabled and registers it to stop when the Python process exits.  Later calls
in the same session return the same server.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class RedisInfo:
    """Where the Redis for this test session listens."""

    host: str
    port: int


_session_redis: RedisInfo | None = None


def ensure_redis() -> RedisInfo:
    """Return the session's Redis, starting a throwaway one on first use."""
    global _session_redis
    if _session_redis is None:
        _session_redis = _from_env() or _start_throwaway()
    return _session_redis


def _from_env() -> RedisInfo | None:
    host = os.environ.get("SYNAPSE_TEST_REDIS_HOST")
    if not host:
        return None
    port = int(os.environ.get("SYNAPSE_TEST_REDIS_PORT", "6379"))
    return RedisInfo(host, port)


def _start_throwaway() -> RedisInfo:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not on PATH; install Redis or set "
            "SYNAPSE_TEST_REDIS_HOST/SYNAPSE_TEST_REDIS_PORT"
        )
    workdir = Path(tempfile.mkdtemp(prefix="synapse-test-redis-"))
    port = _free_port()
    log_path = workdir / "redis.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
    atexit.register(_stop, proc, workdir)
    _wait_for_ping("127.0.0.1", port, proc, log_path)
    return RedisInfo("127.0.0.1", port)


def _free_port() -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_ping(host: str, port: int, proc: subprocess.Popen, log: Path) -> None:
    """Block until Redis answers PING, failing early if the process dies."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"redis-server exited with {proc.returncode}:\n{log.read_text()}"
            )
        try:
            with socket.create_connection((host, port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(
        f"redis-server on port {port} not ready after {_START_TIMEOUT_S}s:\n"
        f"{log.read_text()}"
    )


def _stop(proc: subprocess.Popen, workdir: Path) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    shutil.rmtree(workdir, ignore_errors=True)
