"""The keys endpoints across processes of one server (PostgreSQL, Redis):
keys uploaded on main are queried and claimed through a generic worker,
backups are written there, and uploads stay on main as the endpoint table
says."""

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.twisted import run
from tests.workers.cluster import Cluster, register


def _call(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/_matrix/client/v3{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_keys_across_main_and_a_generic_worker(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, instances=["main", "worker1", "persister1"], events_writers=["persister1"])
    try:
        main, _, _ = cluster.start()
        alice, bob = run(register(main, "alice")), run(register(main, "bob"))
        run(main.stores.devices.store_device(alice, "ADEV", "Alice's laptop"))
        run(main.stores.registration.add_access_token(alice, "tok_alice", "ADEV"))
        run(main.stores.registration.add_access_token(bob, "tok_bob", "BDEV"))
        on_main, worker = cluster.base_url("main"), cluster.base_url("worker1")

        keys = {
            "user_id": alice,
            "device_id": "ADEV",
            "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
            "keys": {"curve25519:ADEV": "c", "ed25519:ADEV": "e"},
            "signatures": {alice: {"ed25519:ADEV": "s"}},
        }
        upload = {"device_keys": keys, "one_time_keys": {"signed_curve25519:K1": {"key": "k1"}}}
        assert _call(worker, "tok_alice", "POST", "/keys/upload", upload)[0] == 404  # main only
        assert _call(on_main, "tok_alice", "POST", "/keys/upload", upload) == (
            200,
            {"one_time_key_counts": {"signed_curve25519": 1}},
        )

        code, body = _call(worker, "tok_bob", "POST", "/keys/query", {"device_keys": {alice: []}})
        assert code == 200 and body["device_keys"][alice]["ADEV"]["unsigned"] == {
            "device_display_name": "Alice's laptop"
        }
        claim = {"one_time_keys": {alice: {"ADEV": "signed_curve25519"}}}
        code, body = _call(worker, "tok_bob", "POST", "/keys/claim", claim)
        assert body["one_time_keys"] == {alice: {"ADEV": {"signed_curve25519:K1": {"key": "k1"}}}}
        assert _call(on_main, "tok_bob", "POST", "/keys/claim", claim)[1]["one_time_keys"] == {}

        version = {"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": {"public_key": "p"}}
        code, body = _call(worker, "tok_alice", "POST", "/room_keys/version", version)
        assert code == 200
        assert _call(on_main, "tok_alice", "GET", "/room_keys/version")[1]["version"] == body["version"]
    finally:
        cluster.stop()
