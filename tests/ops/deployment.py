"""A deployment on disk: shared homeserver.yaml, a signing key and worker files.

`Deploy` writes real files in tmp_path; tests change the dicts and write
again, so each test shows only the mistake it makes.
"""

import os
from typing import Any

import yaml

from synapse.config.generate import write_new_signing_key


def http_listener(port: int, *resources: str, bind: str = "127.0.0.1") -> dict[str, Any]:
    return {
        "type": "http",
        "port": port,
        "bind_addresses": [bind],
        "x_forwarded": True,
        "resources": [{"names": list(resources)}],
    }


class Deploy:
    def __init__(self, root: str) -> None:
        self.root = root
        self.key = os.path.join(root, "signing.key")
        write_new_signing_key(self.key)
        self.workers_dir = os.path.join(root, "workers")
        os.makedirs(self.workers_dir)
        self.shared: dict[str, Any] = {
            "server_name": "example.org",
            "report_stats": False,
            "signing_key_path": self.key,
            "pid_file": os.path.join(root, "main.pid"),
            "database": {"name": "psycopg2", "args": {"database": "synapse", "host": "127.0.0.1"}},
            "redis": {"enabled": True},
            "listeners": [http_listener(8008, "client", "federation"), http_listener(9093, "replication")],
            "instance_map": {
                "main": {"host": "127.0.0.1", "port": 9093},
                "writer1": {"host": "127.0.0.1", "port": 9094},
            },
            "stream_writers": {"typing": "writer1", "events": "writer1"},
        }
        self.workers: dict[str, dict[str, Any]] = {
            "generic1": self.worker("generic1", http_listener(8083, "client", "federation")),
            "generic2": self.worker("generic2", http_listener(8084, "client", "federation")),
            "writer1": self.worker("writer1", http_listener(9094, "replication"), http_listener(8085, "client")),
        }

    def worker(self, name: str, *listeners: dict[str, Any]) -> dict[str, Any]:
        return {
            "worker_app": "synapse.app.generic_worker",
            "worker_name": name,
            "worker_listeners": list(listeners),
            "worker_pid_file": os.path.join(self.root, f"{name}.pid"),
        }

    @property
    def shared_path(self) -> str:
        return os.path.join(self.root, "homeserver.yaml")

    def worker_path(self, file_stem: str) -> str:
        return os.path.join(self.workers_dir, f"{file_stem}.yaml")

    def write(self) -> "Deploy":
        _dump(self.shared_path, self.shared)
        for name in os.listdir(self.workers_dir):
            os.unlink(os.path.join(self.workers_dir, name))
        for file_stem, content in self.workers.items():
            _dump(self.worker_path(file_stem), content)
        return self

    def worker_files(self) -> list[str]:
        return sorted(self.worker_path(stem) for stem in self.workers)


def _dump(path: str, content: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(content, f)
