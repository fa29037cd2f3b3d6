"""The device_lists stream across processes (PostgreSQL, Redis), its writer
a worker of its own: a login on a generic worker (a new device) ends a
co-member's long-poll on main, and a key upload on main ends one on the
generic worker; both go through the writer, whose rows the readers see."""

import threading
import time
import urllib.parse
from pathlib import Path
from typing import Callable

from synapse.streams.device_lists import DeviceListsStream
from synapse.streams.writer import RemoteStreamWriter
from tests.accounts.client import Client
from tests.support.twisted import run
from tests.workers.cluster import Cluster

PASSWORD = "pw"


def _login(base: str, user_id: str) -> Client:
    client = Client(base)
    client.login(user_id, PASSWORD)
    return client


def _woken_by(client: Client, user_id: str, change: Callable[[], None]) -> float:
    """Seconds from `change()` to a long-poll of `client` reporting `user_id` in device_lists.changed."""
    since = client.get("/sync")[1]["next_batch"]
    woken: dict[str, float] = {}

    def long_poll() -> None:
        token = since
        while "at" not in woken:
            status, body = client.get(f"/sync?since={urllib.parse.quote(token)}&timeout=15000")
            assert status == 200, body
            token = body["next_batch"]
            if user_id in body["device_lists"]["changed"]:
                woken["at"] = time.monotonic()

    poller = threading.Thread(target=long_poll, daemon=True)
    poller.start()
    time.sleep(0.5)
    changed_at = time.monotonic()
    change()
    poller.join(timeout=20)
    assert "at" in woken, "the long-poll never reported the change"
    return woken["at"] - changed_at


def test_device_list_changes_wake_long_polls_on_other_processes(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path,
        instances=["main", "worker1", "writer1"],
        events_writers=["main"],
        stream_writers={"device_lists": ["writer1"]},
    )
    try:
        main, worker, writer = cluster.start()
        assert isinstance(main.stream_writer("device_lists"), RemoteStreamWriter)
        assert isinstance(worker.stream_writer("device_lists"), RemoteStreamWriter)
        assert isinstance(writer.stream_writer("device_lists"), DeviceListsStream)
        password_hash = run(main.auth_handler.hash_password(PASSWORD))
        eve, finn = f"@eve:{main.hostname}", f"@finn:{main.hostname}"
        for user_id in (eve, finn):
            run(main.stores.registration.register_user(user_id, password_hash))
        on_main, on_worker = cluster.base_url("main"), cluster.base_url("worker1")
        eve_main, finn_main = _login(on_main, eve), _login(on_main, finn)
        status, room = eve_main.post("/createRoom", {"preset": "public_chat"})
        assert status == 200, room
        assert finn_main.post(f"/rooms/{urllib.parse.quote(room['room_id'], safe='')}/join")[0] == 200

        # a new device of eve's, logged in on the generic worker, wakes finn on main
        assert _woken_by(finn_main, eve, lambda: Client(on_worker).login(eve, PASSWORD) and None) < 5

        # eve's key upload on main (its only process) wakes finn on the worker
        finn_worker = Client(on_worker, token=finn_main.token)
        device = eve_main.device_id
        keys = {
            "user_id": eve,
            "device_id": device,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
            "keys": {f"curve25519:{device}": "c", f"ed25519:{device}": "e"},
            "signatures": {eve: {f"ed25519:{device}": "s"}},
        }

        def upload() -> None:
            assert eve_main.post("/keys/upload", {"device_keys": keys})[0] == 200

        assert _woken_by(finn_worker, eve, upload) < 5
        assert writer.id_generators["device_lists"].get_current_token() >= 3
    finally:
        cluster.stop()
