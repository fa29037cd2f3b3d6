"""An encrypted conversation between two matrix-nio clients (vodozemac
crypto), on every deployment.

Each client has its own device and crypto store and does what nio's
`sync_forever` loop does after each sync (upload, query and claim keys as
the sync asks). Alice's first message needs keys/query, keys/claim and an
Olm-encrypted to-device delivery of her Megolm room key through the server;
bob's reply does the same the other way. The server only ever holds
ciphertext: the room's timeline has m.room.encrypted events.
"""

import asyncio
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

from tests.accounts.client import Client, unique
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture

PASSWORD = "secret-pw"
MEGOLM = "m.megolm.v1.aes-sha2"


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


async def _login(homeserver: Deployment, user_id: str, store: Path) -> AsyncClient:
    store.mkdir()
    config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False)
    client = AsyncClient(homeserver.base_url, user_id, store_path=str(store), config=config)
    assert isinstance(await client.login(PASSWORD, device_name=f"{user_id} nio"), LoginResponse)
    return client


async def _sync(client: AsyncClient, timeout_ms: int = 0) -> SyncResponse:
    """One sync plus the key maintenance a real client does after it."""
    resp = await client.sync(timeout=timeout_ms, full_state=client.next_batch is None)
    assert isinstance(resp, SyncResponse), resp
    if client.should_upload_keys:
        await client.keys_upload()
    if client.should_query_keys:
        await client.keys_query()
    if client.should_claim_keys:
        await client.keys_claim(client.get_users_for_key_claiming())
    await client.send_to_device_messages()
    return resp


async def _sync_until(client: AsyncClient, done: Callable[[], bool]) -> None:
    """Long-polls until `done()`: on the worker deployment another process
    persists events, and a sync process sees them once replicated."""
    for _ in range(10):
        if done():
            return
        await _sync(client, timeout_ms=2000)
    assert done()


async def _receive_text(client: AsyncClient, room_id: str, body: str) -> RoomMessageText:
    """Syncs until the message with `body` arrives decrypted in `room_id`."""
    undecrypted: list[Any] = []
    for _ in range(10):
        resp = await _sync(client, timeout_ms=2000)
        room = resp.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.body == body:
                assert event.decrypted, event
                return event
            if isinstance(event, MegolmEvent):
                undecrypted.append(event)
    raise AssertionError(f"{client.user_id} never decrypted {body!r}; undecryptable: {undecrypted}")


async def _encrypted_room(alice: AsyncClient, bob: AsyncClient) -> str:
    """A Megolm room alice creates and bob joins, once both have synced it."""
    await _sync(alice)
    await _sync(bob)
    encryption = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
    created = await alice.room_create(invite=[bob.user_id], initial_state=[encryption])
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    await _sync_until(bob, lambda: room_id in bob.invited_rooms)
    assert isinstance(await bob.join(room_id), JoinResponse)
    await _sync_until(bob, lambda: room_id in bob.rooms)
    await _sync_until(alice, lambda: room_id in alice.rooms and bob.user_id in alice.rooms[room_id].users)
    assert alice.rooms[room_id].encrypted and bob.rooms[room_id].encrypted
    return room_id


async def _send_text(client: AsyncClient, room_id: str, body: str) -> str:
    sent = await client.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": body}, ignore_unverified_devices=True
    )
    assert isinstance(sent, RoomSendResponse), sent
    return sent.event_id


def _registered(homeserver: Deployment, prefix: str) -> Client:
    client = Client(homeserver.base_url)
    client.register(unique(prefix), PASSWORD)
    return client


def test_two_nio_clients_hold_an_encrypted_conversation(homeserver: Deployment, tmp_path: Path) -> None:
    alice_http, bob_http = _registered(homeserver, "convoa"), _registered(homeserver, "convob")

    async def scenario() -> str:
        alice = await _login(homeserver, alice_http.user_id or "", tmp_path / "alice")
        bob = await _login(homeserver, bob_http.user_id or "", tmp_path / "bob")
        try:
            room_id = await _encrypted_room(alice, bob)

            hello = "hello bob, this is secret"
            sent = await _send_text(alice, room_id, hello)
            received = await _receive_text(bob, room_id, hello)
            assert received.sender == alice.user_id and received.event_id == sent

            reply = "hi alice, bob here"
            await _send_text(bob, room_id, reply)
            received_back = await _receive_text(alice, room_id, reply)
            assert received_back.sender == bob.user_id
            return room_id
        finally:
            await alice.close()
            await bob.close()

    room_id = asyncio.run(scenario())

    # on the server the messages are ciphertext only
    status, messages = alice_http.get(f"/rooms/{urllib.parse.quote(room_id, safe='')}/messages?dir=b&limit=50")
    assert status == 200, messages
    sent = [e for e in messages["chunk"] if e["type"] in ("m.room.encrypted", "m.room.message")]
    assert [e["type"] for e in sent] == ["m.room.encrypted", "m.room.encrypted"]
    for event in sent:
        assert event["content"]["algorithm"] == MEGOLM
        assert "ciphertext" in event["content"] and "body" not in event["content"]


def test_a_new_device_is_seen_and_a_deleted_one_dropped_through_device_lists(
    homeserver: Deployment, tmp_path: Path
) -> None:
    """Bob logs in a second nio device: alice's sync lists bob as changed,
    nio re-queries his keys and finds it, and a new room key reaches it.
    When that device logs out, the next change makes nio mark it deleted."""
    alice_http, bob_http = _registered(homeserver, "newdeva"), _registered(homeserver, "newdevb")

    async def scenario() -> None:
        alice = await _login(homeserver, alice_http.user_id or "", tmp_path / "alice")
        bob = await _login(homeserver, bob_http.user_id or "", tmp_path / "bob")
        tablet: Optional[AsyncClient] = None
        try:
            room_id = await _encrypted_room(alice, bob)
            await _send_text(alice, room_id, "before the tablet")
            await _receive_text(bob, room_id, "before the tablet")
            assert {d.id for d in alice.device_store.active_user_devices(bob.user_id)} == {bob.device_id}

            tablet = await _login(homeserver, bob_http.user_id or "", tmp_path / "tablet")
            await _sync(tablet)
            await _sync_until(alice, lambda: tablet.device_id in alice.device_store[bob.user_id])
            found = alice.device_store[bob.user_id][tablet.device_id]
            assert found.ed25519 == tablet.olm.account.identity_keys["ed25519"]
            # a new Megolm session, shared with every device alice now knows
            await alice.share_group_session(room_id, ignore_unverified_devices=True)
            await _send_text(alice, room_id, "hello tablet")
            await _receive_text(tablet, room_id, "hello tablet")

            await tablet.logout()
            await _sync_until(alice, lambda: alice.device_store[bob.user_id][tablet.device_id].deleted)
            assert not alice.device_store[bob.user_id][bob.device_id].deleted
        finally:
            await alice.close()
            await bob.close()
            if tablet is not None:
                await tablet.close()

    asyncio.run(scenario())
