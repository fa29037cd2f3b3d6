"""sd_notify sends its state to the datagram socket in $NOTIFY_SOCKET."""

import os
import socket
import uuid

from synapse.util.sdnotify import sdnotify


def test_sends_to_path_socket(tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert sdnotify("READY=1") is True
        receiver.settimeout(2)
        assert receiver.recv(64) == b"READY=1"


def test_sends_to_abstract_socket(monkeypatch):
    name = f"synapse-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify(b"STOPPING=1") is True
        receiver.settimeout(2)
        assert receiver.recv(64) == b"STOPPING=1"


def test_without_socket_does_nothing(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify("READY=1") is False


def test_unreachable_socket_is_reported_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", os.path.join(tmp_path, "absent.sock"))
    assert sdnotify("READY=1") is False
