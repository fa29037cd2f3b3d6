"""Several HomeServers in this test process, as separate "processes" of one
server: distinct instance names, one PostgreSQL database, a real Redis bus
and HTTP replication listeners on free ports.

    cluster = Cluster(tmp_path, instances=["main", "persister1"], events_writers=["persister1"])
    main, persister = cluster.start()
    ...
    cluster.stop()
"""

import socket
from pathlib import Path
from typing import Any, Optional

from twisted.internet import reactor

from synapse.app.listeners import start_listeners
from synapse.config.generate import write_new_signing_key
from synapse.config.homeserver import HomeServerConfig
from synapse.server import HomeServer
from synapse.types import Requester, UserID
from tests.replication.util import unique_server_name
from tests.support.databases import TestDatabase
from tests.support.redis import ensure_redis
from tests.support.twisted import run

SECRET = "test-replication-secret"
_UNLIMITED = {"per_second": 10000, "burst_count": 100000}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(
        self,
        tmp_path: Path,
        instances: list[str],
        events_writers: list[str],
        stream_writers: Optional[dict[str, list[str]]] = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.server_name = unique_server_name()
        self.database = TestDatabase.fresh("psycopg2", tmp_path)
        self.instances = instances
        self.ports = {name: free_port() for name in instances}
        key_path = str(tmp_path / "signing.key")
        write_new_signing_key(key_path)
        redis = ensure_redis()
        self.shared: dict[str, Any] = {
            "server_name": self.server_name,
            "report_stats": False,
            "suppress_key_server_warning": True,
            "signing_key_path": key_path,
            "database": {"name": "psycopg2", "args": dict(self.database.args)},
            "redis": {"enabled": True, "host": redis.host, "port": redis.port},
            "instance_map": {
                name: {"host": "127.0.0.1", "port": port} for name, port in self.ports.items()
            },
            "stream_writers": {"events": events_writers, **(stream_writers or {})},
            "worker_replication_secret": SECRET,
            "listeners": [self._replication_listener("main")],
            "rc_message": _UNLIMITED,
            "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
            "rc_room_creation": _UNLIMITED,
        }
        self.servers: dict[str, HomeServer] = {}
        self._ports: list[Any] = []

    def _replication_listener(self, name: str) -> dict[str, Any]:
        return {
            "type": "http",
            "port": self.ports[name],
            "bind_addresses": ["127.0.0.1"],
            "resources": [{"names": ["replication", "client"]}],
        }

    def config_for(self, name: str) -> HomeServerConfig:
        root = dict(self.shared)
        if name != "main":
            root.update(
                worker_app="synapse.app.generic_worker",
                worker_name=name,
                worker_listeners=[self._replication_listener(name)],
            )
        return HomeServerConfig.from_dict(root, config_dir=str(self.tmp_path), config_files=["homeserver.yaml"])

    def start(self) -> list[HomeServer]:
        """Starts main first (it creates the schema), then the others."""
        for name in sorted(self.instances, key=lambda n: n != "main"):
            self.start_one(name)
        return [self.servers[name] for name in self.instances]

    def start_one(self, name: str) -> HomeServer:
        config = self.config_for(name)
        hs = HomeServer(config, reactor)  # type: ignore[arg-type]
        run(hs.setup())
        listeners = config.server.listeners if config.worker.is_main else config.worker.worker_listeners
        self._ports.extend(run(lambda: start_listeners(hs, listeners, reactor)))
        self.servers[name] = hs
        return hs

    def base_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> None:
        for port in self._ports:
            run(lambda port=port: port.stopListening())
        for hs in self.servers.values():
            run(hs.shutdown())
        self.database.cleanup()


def requester(hs: HomeServer, localpart: str, device_id: Optional[str] = "DEV") -> Requester:
    return Requester(UserID(localpart, hs.hostname), device_id, None)


async def register(hs: HomeServer, localpart: str) -> str:
    user_id = f"@{localpart}:{hs.hostname}"
    await hs.stores.registration.register_user(user_id, None, displayname=localpart)
    return user_id
