"""The real entry path in a subprocess, with a fake HomeServer.

Checks the process life cycle (setup, READY=1 over sd_notify, pid file,
SIGTERM -> hs.shutdown -> exit 0) and what the listeners serve over real
HTTP: /health everywhere, metrics, gzip, X-Forwarded-For in the access log,
a UNIX socket listener, and a worker's listeners.
"""

import gzip
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from typing import Any, Optional

import pytest
import yaml

from synapse.config.generate import write_new_signing_key
from synapse.config.logger import generate_log_config_text

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE_MAIN = os.path.join(REPO, "tests", "app", "fake_homeserver_main.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def unix_get(path: str, target: str) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(f"GET {target} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


class RunningServer:
    """Starts the fake-HS process and waits for READY=1 on our notify socket."""

    def __init__(self, tmp_path: Any, config_files: list[str], worker: bool = False) -> None:
        self.notify_path = str(tmp_path / "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        env = {**os.environ, "PYTHONPATH": REPO, "NOTIFY_SOCKET": self.notify_path}
        args = [sys.executable, FAKE_MAIN] + (["--worker"] if worker else [])
        for f in config_files:
            args += ["-c", f]
        self.proc = subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def wait_ready(self) -> None:
        self.notify.settimeout(20)
        try:
            assert self.notify.recv(64) == b"READY=1"
        except socket.timeout:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail(f"server never became ready\nstdout: {out}\nstderr: {err}")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=20)
        finally:
            self.notify.close()
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.notify.close()


def write_config(tmp_path: Any, name: str, content: dict[str, Any]) -> str:
    path = str(tmp_path / name)
    with open(path, "w") as f:
        yaml.safe_dump(content, f)
    return path


def base_config(tmp_path: Any) -> dict[str, Any]:
    key_path = str(tmp_path / "test.signing.key")
    write_new_signing_key(key_path)
    return {
        "server_name": "test.local",
        "report_stats": False,
        "signing_key_path": key_path,
        "suppress_key_server_warning": True,
    }


def test_main_process_serves_health_metrics_and_stops_cleanly(tmp_path):
    http_port, metrics_port = free_port(), free_port()
    log_file = str(tmp_path / "homeserver.log")
    log_config = tmp_path / "log.yaml"
    log_config.write_text(generate_log_config_text(log_file))
    socket_path = str(tmp_path / "replication.sock")
    pid_file = str(tmp_path / "hs.pid")
    config = write_config(
        tmp_path,
        "homeserver.yaml",
        {
            **base_config(tmp_path),
            "pid_file": pid_file,
            "log_config": str(log_config),
            "enable_metrics": True,
            "listeners": [
                {
                    "port": http_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "x_forwarded": True,
                    "resources": [{"names": ["client", "metrics"], "compress": True}],
                },
                {"port": metrics_port, "bind_addresses": ["127.0.0.1"], "type": "metrics"},
                {"path": socket_path, "type": "http", "resources": [{"names": ["replication"]}]},
            ],
        },
    )
    server = RunningServer(tmp_path, [config])
    try:
        server.wait_ready()
        with open(pid_file) as f:
            assert int(f.read()) == server.proc.pid

        status, _, body = http_get(f"http://127.0.0.1:{http_port}/health")
        assert (status, body) == (200, b"OK")

        status, headers, body = http_get(
            f"http://127.0.0.1:{http_port}/_matrix/fake?access_token=SECRETTOKEN",
            {"X-Forwarded-For": "203.0.113.7, 10.0.0.1", "Accept-Encoding": "gzip"},
        )
        assert status == 200 and headers.get("Content-Encoding") == "gzip"
        assert gzip.decompress(body) == b"names=client"

        status, _, body = http_get(f"http://127.0.0.1:{http_port}/_synapse/metrics")
        assert status == 200 and b"python_info" in body

        assert http_get(f"http://127.0.0.1:{metrics_port}/health")[2] == b"OK"
        assert b"python_info" in http_get(f"http://127.0.0.1:{metrics_port}/metrics")[2]

        response = unix_get(socket_path, "/health")
        assert response.startswith(b"HTTP/1.0 200") and response.endswith(b"\r\n\r\nOK")
        assert unix_get(socket_path, "/_matrix/fake").endswith(b"names=replication")

        code, out, err = server.stop(signal.SIGTERM)
    finally:
        server.kill()
    assert code == 0, err
    assert out.split() == ["setup", "shutdown"]
    assert not os.path.exists(pid_file)

    with open(log_file) as f:
        log = f.read()
    access = [line for line in log.splitlines() if "GET /_matrix/fake?access_token" in line]
    assert len(access) == 1
    assert "203.0.113.7" in access[0] and " 200 " in access[0]
    assert "access_token=<redacted>" in access[0] and "SECRETTOKEN" not in log


def test_worker_serves_its_worker_listeners(tmp_path):
    main_port, worker_port = free_port(), free_port()
    shared = write_config(
        tmp_path,
        "shared.yaml",
        {
            **base_config(tmp_path),
            "listeners": [{"port": main_port, "type": "http", "resources": [{"names": ["client"]}]}],
            "instance_map": {"main": {"host": "localhost", "port": 9093}},
        },
    )
    worker = write_config(
        tmp_path,
        "worker.yaml",
        {
            "worker_app": "synapse.app.generic_worker",
            "worker_name": "worker1",
            "worker_pid_file": str(tmp_path / "worker1.pid"),
            "worker_listeners": [
                {"port": worker_port, "bind_addresses": ["127.0.0.1"], "type": "http",
                 "resources": [{"names": ["client", "federation"]}]}
            ],
        },
    )
    server = RunningServer(tmp_path, [shared, worker], worker=True)
    try:
        server.wait_ready()
        assert os.path.exists(tmp_path / "worker1.pid")
        assert http_get(f"http://127.0.0.1:{worker_port}/health")[2] == b"OK"
        assert http_get(f"http://127.0.0.1:{worker_port}/_matrix/fake")[2] == b"names=client,federation"
        # the worker does not open the main process's listeners
        with pytest.raises(OSError):
            http_get(f"http://127.0.0.1:{main_port}/health")
        code, out, err = server.stop(signal.SIGINT)
    finally:
        server.kill()
    assert code == 0, err
    assert out.split() == ["setup", "shutdown"]


def test_startup_failure_exits_1(tmp_path):
    port = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        config = write_config(
            tmp_path,
            "homeserver.yaml",
            {**base_config(tmp_path),
             "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http",
                            "resources": [{"names": ["client"]}]}]},
        )
        server = RunningServer(tmp_path, [config])
        try:
            out, err = server.proc.communicate(timeout=20)
        finally:
            server.kill()
    assert server.proc.returncode == 1
    assert "Failed to start" in err and str(port) in err
