"""End-to-end: the server process behaves under a service manager.

systemd (Type=notify) waits for READY=1 on NOTIFY_SOCKET before it routes
traffic or starts dependent units, and stops services with SIGTERM; a server
that never signals readiness or exits non-zero on SIGTERM breaks deployments.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.homeserver import Homeserver

NOTIFY_WAIT_S = 15.0


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    """A bound unix datagram socket standing in for systemd's notify socket."""
    # A short private dir: unix socket paths are limited to ~107 bytes.
    workdir = tempfile.mkdtemp(prefix="sdn-")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(Path(workdir) / "notify"))
    try:
        yield sock
    finally:
        sock.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for_notification(sock: socket.socket, key: str, received: list[str]) -> None:
    """Read datagrams into ``received`` until one carries ``key``=..."""
    deadline = time.monotonic() + NOTIFY_WAIT_S
    while not any(line.startswith(f"{key}=") for msg in received for line in msg.split("\n")):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {key} notification; got {received!r}")
        sock.settimeout(remaining)
        try:
            received.append(sock.recv(4096).decode())
        except TimeoutError:
            continue


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_ready_notification_and_clean_sigterm_exit(
    homeserver_factory: Callable[..., Homeserver],
    notify_socket: socket.socket,
    database: str,
) -> None:
    hs = homeserver_factory(
        database, env={"NOTIFY_SOCKET": notify_socket.getsockname()}
    )
    received: list[str] = []
    _wait_for_notification(notify_socket, "READY", received)
    assert "READY=1" in "\n".join(received).split("\n"), received

    hs.stop()  # asserts exit status 0 after SIGTERM
    _wait_for_notification(notify_socket, "STOPPING", received)
    assert "STOPPING=1" in "\n".join(received).split("\n"), received
