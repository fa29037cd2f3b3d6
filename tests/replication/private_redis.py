"""A private redis-server a test may kill, freeze and restart on the same port.

The session's shared Redis (tests.support.redis.ensure_redis) must stay up
for other tests, so tests of outages start their own.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PrivateRedis:
    def __init__(self, password: str | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.password = password
        self._dir = Path(tempfile.mkdtemp(prefix="synapse-test-private-redis-"))
        # also listening here
        self.unix_socket = str(self._dir / "redis.sock")
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        with open(self._dir / "redis.log", "ab") as log:
            self._proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                 "--dir", str(self._dir), "--unixsocket", self.unix_socket,
                 *(["--requirepass", self.password] if self.password else [])],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError((self._dir / "redis.log").read_text())
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    # a server with a password answers NOAUTH: up all the same
                    if conn.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"private redis-server on port {self.port} did not start")

    def kill(self) -> None:
        """SIGKILL: connections drop at once, nothing is flushed."""
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait()
        self._proc = None

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a hung server)."""
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._proc is not None
        os.kill(self._proc.pid, signal.SIGCONT)

    def cleanup(self) -> None:
        if self._proc is not None:
            self.thaw()
            self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
