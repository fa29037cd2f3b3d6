"""The harness builds what it claims: separate processes, operator-style
files, and nginx really sending requests to the workers (so the end-to-end
scenarios run "against workers" are not quietly served by main alone)."""

from __future__ import annotations

import urllib.request

import yaml

from tests.support.topology import DEFAULT_STREAM_WRITERS, Topology
from tests.system.client import User


def test_every_process_runs_and_answers_health(topology: Topology) -> None:
    pids = {name: info.process.pid for name, info in topology.processes.items() if info.process}
    assert set(pids) == {"main", "generic1", "generic2", "persister1", "persister2", "stream_writer", "stream_writer2"}
    assert len(set(pids.values())) == len(pids)
    for name, info in topology.processes.items():
        for port in (info.client_port, info.replication_port):
            if port:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
                    assert resp.status == 200, (name, port)


def test_files_are_what_an_operator_writes(topology: Topology) -> None:
    shared = yaml.safe_load(topology.shared_config_path.read_text())
    assert shared["redis"]["enabled"] is True
    assert shared["database"]["name"] == "psycopg2"
    assert shared["worker_replication_secret"] == topology.replication_secret
    assert shared["stream_writers"] == DEFAULT_STREAM_WRITERS
    main = topology.processes["main"]
    assert shared["instance_map"]["main"]["port"] == main.replication_port
    assert "worker_app" not in shared
    for name, info in topology.processes.items():
        if name == "main":
            assert info.files == [topology.shared_config_path]
            continue
        shared_path, own = info.files
        assert shared_path == topology.shared_config_path
        worker = yaml.safe_load(own.read_text())
        assert worker["worker_app"] == "synapse.app.generic_worker"
        assert worker["worker_name"] == name
        assert shared["instance_map"][name]["port"] == info.replication_port


def test_nginx_sends_client_traffic_to_the_generic_workers(topology: Topology) -> None:
    user = User.register(topology.base_url, "routed")
    user.sync()
    user.ok("GET", "/account/whoami")
    logs = {name: info.log_path.read_text(errors="replace") for name, info in topology.processes.items()}
    served_sync = [name for name, text in logs.items() if "GET /_matrix/client/v3/sync" in text]
    assert served_sync and set(served_sync) <= {"generic1", "generic2"}, served_sync
    served_register = [name for name, text in logs.items() if "POST /_matrix/client/v3/register" in text]
    assert served_register and set(served_register) <= {"generic1", "generic2"}, served_register
