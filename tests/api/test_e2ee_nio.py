"""matrix-nio's crypto (vodozemac) against the keys endpoints, both databases.

Two nio clients with encryption enabled: each uploads its device and
one-time keys after login; once alice syncs an encrypted room that bob
joined, nio queries both users' device keys, and claiming a one-time key
for bob's device lets nio build an Olm session (which verifies the claimed
key's signature with the device key the query returned).
"""

import asyncio
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest
from nio import AsyncClient, AsyncClientConfig, KeysClaimResponse, KeysQueryResponse, KeysUploadResponse, LoginResponse

from tests.accounts.client import Client, unique
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture

PASSWORD = "secret-pw"


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


async def nio_login(homeserver: Deployment, user_id: str, store: Path) -> tuple[AsyncClient, int]:
    store.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    client = AsyncClient(homeserver.base_url, user_id, store_path=str(store), config=config)
    resp = await client.login(PASSWORD, device_name="nio device")
    assert isinstance(resp, LoginResponse), resp
    assert client.should_upload_keys
    upload = await client.keys_upload()
    assert isinstance(upload, KeysUploadResponse), upload
    assert upload.signed_curve25519_count > 0
    assert not client.should_upload_keys
    return client, upload.signed_curve25519_count


def test_nio_uploads_queries_and_claims_keys(homeserver: Deployment, tmp_path: Path) -> None:
    alice_http, bob_http = Client(homeserver.base_url), Client(homeserver.base_url)
    alice_http.register(unique("nioa"), PASSWORD)
    bob_http.register(unique("niob"), PASSWORD)
    encryption = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
    status, room = alice_http.post("/createRoom", {"preset": "public_chat", "initial_state": [encryption]})
    assert status == 200, room
    room_id = room["room_id"]
    assert bob_http.post(f"/rooms/{urllib.parse.quote(room_id, safe='')}/join")[0] == 200

    async def scenario() -> None:
        alice, _ = await nio_login(homeserver, alice_http.user_id or "", tmp_path / "alice")
        bob, bob_uploaded = await nio_login(homeserver, bob_http.user_id or "", tmp_path / "bob")
        try:
            await alice.sync(timeout=0, full_state=True)
            assert alice.rooms[room_id].encrypted
            assert alice.should_query_keys
            query = await alice.keys_query()
            assert isinstance(query, KeysQueryResponse), query
            bob_device = alice.device_store[bob.user_id][bob.device_id]
            assert bob_device.ed25519 == bob.olm.account.identity_keys["ed25519"]
            assert bob_device.curve25519 == bob.olm.account.identity_keys["curve25519"]
            assert bob_device.display_name == "nio device"

            missing = alice.get_missing_sessions(room_id)
            assert bob.device_id in missing[bob.user_id]
            claim = await alice.keys_claim(missing)
            assert isinstance(claim, KeysClaimResponse), claim
            assert bob.device_id in claim.one_time_keys[bob.user_id]
            assert alice.olm.session_store.get(bob_device.curve25519) is not None
            assert bob.device_id not in alice.get_missing_sessions(room_id).get(bob.user_id, [])

            # the claimed key is gone from the count of bob's nio device on the server
            bob_nio_http = Client(homeserver.base_url, token=bob.access_token)
            counts = bob_nio_http.post("/keys/upload", {})[1]["one_time_key_counts"]
            assert counts["signed_curve25519"] == bob_uploaded - 1
        finally:
            await alice.close()
            await bob.close()

    asyncio.run(scenario())
