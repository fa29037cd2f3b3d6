"""Fake routes, fake upstream processes and a throwaway nginx for the nginx tests."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from synapse.http.servlet import RestServlet, client_patterns, path_pattern
from synapse.routes import Route

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


class FakeSync(RestServlet):
    PATTERNS = client_patterns("/sync")

    def on_GET(self) -> None: ...


class FakeEventStream(RestServlet):
    PATTERNS = client_patterns("/events", versions=("api/v1", "r0", "v3"))

    def on_GET(self) -> None: ...


class FakeInitialSync(RestServlet):
    PATTERNS = client_patterns("/initialSync", versions=("api/v1", "r0", "v3"))

    def on_GET(self) -> None: ...


class FakeMessages(RestServlet):
    PATTERNS = client_patterns("/rooms/{roomId}/messages")

    def on_GET(self) -> None: ...


class FakeTyping(RestServlet):
    PATTERNS = client_patterns("/rooms/{roomId}/typing/{userId}", unstable=True)

    def on_PUT(self) -> None: ...


class FakePushRulesRead(RestServlet):
    PATTERNS = client_patterns("/pushrules/{scope}")

    def on_GET(self) -> None: ...


class FakePushRulesWrite(RestServlet):
    PATTERNS = client_patterns("/pushrules/{scope}")

    def on_PUT(self) -> None: ...


class FakeWhoami(RestServlet):
    PATTERNS = client_patterns("/account/whoami")

    def on_GET(self) -> None: ...


class FakeAdmin(RestServlet):
    PATTERNS = [path_pattern("/_synapse/admin/v1/server_version")]

    def on_GET(self) -> None: ...


class FakeFederationSend(RestServlet):
    PATTERNS = [path_pattern("/_matrix/federation/v1/send/{txnId}")]

    def on_PUT(self) -> None: ...


class FakeDotted(RestServlet):
    # a literal dot and a quote-free brace: the regex must survive nginx quoting
    PATTERNS = [re.compile(r"^/_matrix/client/unstable/org\.example/x{1,2}$")]

    def on_GET(self) -> None: ...


FAKE_ROUTES = [
    Route(FakeSync, sticky_by="user"),
    Route(FakeEventStream, sticky_by="user"),
    Route(FakeInitialSync, sticky_by="user"),
    Route(FakeMessages, sticky_by="room"),
    Route(FakeTyping, stream="typing"),
    Route(FakePushRulesRead),
    Route(FakePushRulesWrite, runs_on="main"),
    Route(FakeWhoami),
    Route(FakeAdmin, resource="admin", runs_on="main"),
    Route(FakeFederationSend, resource="federation", sticky_by="origin"),
    Route(FakeDotted),
]


def parse_nginx(text: str) -> dict[str, Any]:
    """The parts of a generated config tests look at: upstreams (name ->
    directives), locations (match -> proxy_pass target) and maps."""
    upstreams = {
        name: [line.strip().rstrip(";") for line in body.strip().splitlines()]
        for name, body in re.findall(r"^upstream (\S+) \{\n(.*?)^\}", text, re.M | re.S)
    }
    locations = dict(re.findall(r"^    location (.+?) \{\n\s+proxy_pass http://(\S+);", text, re.M))
    maps = {
        var: dict(re.findall(r"^\s+(\"[^\"]*\"|\S+) (\S+);$", body, re.M))
        for var, body in re.findall(r"^map \S+ \$(\S+) \{\n(.*?)^\}", text, re.M | re.S)
    }
    server = re.search(r"^server \{\n(.*?)^\}", text, re.M | re.S)
    assert server is not None
    return {"upstreams": upstreams, "locations": locations, "maps": maps, "server": server.group(1)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeProcess:
    """An HTTP server answering every request with who it is and what it saw."""

    def __init__(self, name: str, port: int) -> None:
        process_name = name

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = json.dumps(
                    {
                        "process": process_name,
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def nginx_main_config(tmp: str, include: str, pid_file: Optional[str] = None) -> str:
    """A whole nginx.conf around a generated conf.d file, everything in tmp."""
    path = os.path.join(tmp, "nginx.conf")
    temp = os.path.join(tmp, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    with open(path, "w") as f:
        f.write(
            f"daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"pid {pid_file or os.path.join(tmp, 'nginx.pid')};\nerror_log {tmp}/error.log;\n"
            "events { worker_connections 64; }\n"
            "http {\n"
            f"    access_log off;\n"
            f"    client_body_temp_path {temp}/body;\n    proxy_temp_path {temp}/proxy;\n"
            f"    fastcgi_temp_path {temp}/fastcgi;\n    uwsgi_temp_path {temp}/uwsgi;\n"
            f"    scgi_temp_path {temp}/scgi;\n"
            f"    include {include};\n"
            "}\n"
        )
    return path


class RunningNginx:
    def __init__(self, conf: str, port: int) -> None:
        assert NGINX is not None
        self.proc = subprocess.Popen([NGINX, "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.port = port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError as e:
                if self.proc.poll() is not None:
                    output = self.proc.stdout.read().decode()  # type: ignore[union-attr]
                    raise RuntimeError(f"nginx exited: {output}") from e
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
