"""End-to-end: two matrix-nio clients talk through a real homeserver process.

Each test runs once per database (the ``homeserver`` fixture) and drives its
own asyncio loop with ``asyncio.run``, so no pytest async plugin is needed.
Users and rooms are fresh per test because the server is shared.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nio import (
    AsyncClient,
    InviteMemberEvent,
    JoinedRoomsResponse,
    JoinResponse,
    LoginResponse,
    MessageDirection,
    ProfileGetDisplayNameResponse,
    ProfileSetDisplayNameResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomGetStateEventResponse,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
    RoomPutStateResponse,
    RoomRedactResponse,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

from tests.e2e import rawhttp
from tests.support.homeserver import Homeserver

PASSWORD = "correct horse battery staple"
# Big enough that no timeline in these tests is cut short by the default limit.
SYNC_FILTER = {"room": {"timeline": {"limit": 50}}}
SYNC_DEADLINE_S = 20.0


def _localpart(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def _register_via_uia(base_url: str, localpart: str) -> str:
    """Register: a bare request discovers the UIA session, nio completes dummy."""
    status, flows = await asyncio.to_thread(
        rawhttp.request,
        "POST",
        f"{base_url}/_matrix/client/v3/register",
        body={"username": localpart, "password": PASSWORD},
    )
    assert status == 401, flows
    assert ["m.login.dummy"] in [flow["stages"] for flow in flows["flows"]], flows
    client = AsyncClient(base_url)
    try:
        resp = await client.register(
            localpart, PASSWORD, device_name="registration", session_token=flows["session"]
        )
    finally:
        await client.close()
    assert isinstance(resp, RegisterResponse), resp
    assert resp.user_id == f"@{localpart}:localhost"
    assert resp.access_token and resp.device_id
    return resp.user_id


async def _login(base_url: str, user: str, expected_user_id: str) -> AsyncClient:
    """Log in with a password, by full user ID or by bare localpart."""
    client = AsyncClient(base_url, user)
    resp = await client.login(PASSWORD, device_name="e2e")
    assert isinstance(resp, LoginResponse), resp
    assert resp.user_id == expected_user_id
    whoami = await client.whoami()
    assert isinstance(whoami, WhoamiResponse), whoami
    assert (whoami.user_id, whoami.device_id) == (expected_user_id, resp.device_id)
    return client


async def _sync_until(
    client: AsyncClient, done: Callable[[SyncResponse], bool], what: str
) -> SyncResponse:
    """Sync incrementally until ``done`` accepts a response."""
    deadline = time.monotonic() + SYNC_DEADLINE_S
    while time.monotonic() < deadline:
        resp = await client.sync(timeout=1000, sync_filter=SYNC_FILTER)
        assert isinstance(resp, SyncResponse), resp
        if done(resp):
            return resp
    raise AssertionError(f"{client.user_id} never saw {what} in /sync")


async def _collect_timeline(
    client: AsyncClient,
    room_id: str,
    done: Callable[[list[dict[str, Any]]], bool],
    what: str,
) -> list[dict[str, Any]]:
    """Sync until the room's accumulated timeline (raw events) satisfies ``done``."""
    seen: list[dict[str, Any]] = []

    def absorb(resp: SyncResponse) -> bool:
        room = resp.rooms.join.get(room_id)
        if room is not None:
            seen.extend(event.source for event in room.timeline.events)
        return done(seen)

    await _sync_until(client, absorb, what)
    return seen


def _of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == event_type]


@dataclass
class _Pair:
    alice: AsyncClient
    bob: AsyncClient
    room_id: str

    async def close(self) -> None:
        await self.alice.close()
        await self.bob.close()


async def _alice_invites_bob(base_url: str) -> _Pair:
    """Register both, log in (alice by user ID, bob by localpart), share a room."""
    alice_id = await _register_via_uia(base_url, _localpart("alice"))
    bob_localpart = _localpart("bob")
    bob_id = await _register_via_uia(base_url, bob_localpart)
    alice = await _login(base_url, alice_id, alice_id)
    bob = await _login(base_url, bob_localpart, bob_id)
    pair = _Pair(alice, bob, room_id="")
    try:
        created = await alice.room_create(name="Tea party", topic="Unbirthdays")
        assert isinstance(created, RoomCreateResponse), created
        pair.room_id = room_id = created.room_id
        for event_type, key, value in [
            ("m.room.name", "name", "Tea party"),
            ("m.room.topic", "topic", "Unbirthdays"),
        ]:
            state = await alice.room_get_state_event(room_id, event_type)
            assert isinstance(state, RoomGetStateEventResponse), state
            assert state.content[key] == value

        invited = await alice.room_invite(room_id, bob_id)
        assert isinstance(invited, RoomInviteResponse), invited

        def bob_is_invited(resp: SyncResponse) -> bool:
            room = resp.rooms.invite.get(room_id)
            # nio moves an invite member event's content out of .source.
            return room is not None and any(
                isinstance(ev, InviteMemberEvent)
                and ev.state_key == bob_id
                and ev.membership == "invite"
                for ev in room.invite_state
            )

        await _sync_until(bob, bob_is_invited, f"the invite to {room_id}")
        joined = await bob.join(room_id)
        assert isinstance(joined, JoinResponse), joined
        assert joined.room_id == room_id
        for client in (alice, bob):
            rooms = await client.joined_rooms()
            assert isinstance(rooms, JoinedRoomsResponse), rooms
            assert room_id in rooms.rooms
    except BaseException:
        await pair.close()
        raise
    return pair


async def _send_text(client: AsyncClient, room_id: str, body: str) -> str:
    resp = await client.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": body}
    )
    assert isinstance(resp, RoomSendResponse), resp
    return resp.event_id


async def _page(
    client: AsyncClient, room_id: str, token: str, direction: MessageDirection, limit: int
) -> RoomMessagesResponse:
    resp = await client.room_messages(room_id, start=token, direction=direction, limit=limit)
    assert isinstance(resp, RoomMessagesResponse), resp
    assert resp.start == token, "start must echo the 'from' token"
    return resp


def _ids(resp: RoomMessagesResponse) -> list[str]:
    return [event.event_id for event in resp.chunk]


async def _converse_and_paginate(base_url: str) -> None:
    pair = await _alice_invites_bob(base_url)
    alice, bob, room_id = pair.alice, pair.bob, pair.room_id
    try:
        sent = [
            await _send_text(alice, room_id, "m1: hello bob"),
            await _send_text(bob, room_id, "m2: hello alice"),
            await _send_text(alice, room_id, "m3: how are you?"),
            await _send_text(bob, room_id, "m4: very well"),
        ]
        senders = [alice.user_id, bob.user_id, alice.user_id, bob.user_id]
        for client in (alice, bob):
            timeline = await _collect_timeline(
                client,
                room_id,
                lambda seen: {e["event_id"] for e in seen} >= set(sent),
                "all four messages",
            )
            messages = _of_type(timeline, "m.room.message")
            assert [e["event_id"] for e in messages] == sent
            assert [e["sender"] for e in messages] == senders
            assert [e["content"]["body"][:2] for e in messages] == ["m1", "m2", "m3", "m4"]

        # Backwards from "now" in pages of two, then forwards over the same events.
        newest = await _page(alice, room_id, alice.next_batch, MessageDirection.back, 2)
        assert _ids(newest) == [sent[3], sent[2]]
        assert newest.end, "a page with older events behind it needs an end token"
        older = await _page(alice, room_id, newest.end, MessageDirection.back, 2)
        assert _ids(older) == [sent[1], sent[0]]
        assert older.end
        forward = await _page(alice, room_id, older.end, MessageDirection.front, 2)
        assert _ids(forward) == [sent[0], sent[1]]
        assert forward.end
        rest = await _page(alice, room_id, forward.end, MessageDirection.front, 10)
        assert _ids(rest) == [sent[2], sent[3]]
    finally:
        await pair.close()


def test_register_login_converse_and_paginate(homeserver: Homeserver) -> None:
    asyncio.run(_converse_and_paginate(homeserver.base_url))


async def _profile_topic_redaction_leave(base_url: str) -> None:
    pair = await _alice_invites_bob(base_url)
    alice, bob, room_id = pair.alice, pair.bob, pair.room_id
    try:
        await _check_displayname(alice, bob, room_id)
        await _check_topic_change(alice, bob, room_id)
        await _check_redaction(alice, bob, room_id)
        await _check_leave(alice, bob, room_id)
    finally:
        await pair.close()


async def _check_displayname(alice: AsyncClient, bob: AsyncClient, room_id: str) -> None:
    set_resp = await alice.set_displayname("Alice Liddell")
    assert isinstance(set_resp, ProfileSetDisplayNameResponse), set_resp
    got = await bob.get_displayname(alice.user_id)
    assert isinstance(got, ProfileGetDisplayNameResponse), got
    assert got.displayname == "Alice Liddell"
    await _collect_timeline(
        bob,
        room_id,
        lambda seen: any(
            e["type"] == "m.room.member"
            and e["state_key"] == alice.user_id
            and e["content"].get("displayname") == "Alice Liddell"
            for e in seen
        ),
        "alice's new displayname in her member event",
    )
    # The spec doesn't say the member events are updated before the profile
    # PUT returns (Synapse does it in the background), hence after the sync.
    member = await bob.room_get_state_event(room_id, "m.room.member", alice.user_id)
    assert isinstance(member, RoomGetStateEventResponse), member
    assert member.content["membership"] == "join"
    assert member.content["displayname"] == "Alice Liddell"


async def _check_topic_change(alice: AsyncClient, bob: AsyncClient, room_id: str) -> None:
    put = await alice.room_put_state(room_id, "m.room.topic", {"topic": "Riddles"})
    assert isinstance(put, RoomPutStateResponse), put
    timeline = await _collect_timeline(
        bob,
        room_id,
        lambda seen: any(e["event_id"] == put.event_id for e in seen),
        "the topic change",
    )
    (topic_event,) = [e for e in timeline if e["event_id"] == put.event_id]
    assert topic_event["type"] == "m.room.topic"
    assert topic_event["state_key"] == ""
    assert topic_event["sender"] == alice.user_id
    assert topic_event["content"] == {"topic": "Riddles"}
    state = await bob.room_get_state_event(room_id, "m.room.topic")
    assert isinstance(state, RoomGetStateEventResponse), state
    assert state.content["topic"] == "Riddles"


async def _check_redaction(alice: AsyncClient, bob: AsyncClient, room_id: str) -> None:
    regretted = await _send_text(bob, room_id, "why is a raven like a writing desk?")
    redacted = await bob.room_redact(room_id, regretted, reason="spoiler")
    assert isinstance(redacted, RoomRedactResponse), redacted
    timeline = await _collect_timeline(
        alice,
        room_id,
        lambda seen: any(e["event_id"] == redacted.event_id for e in seen),
        "the redaction",
    )
    (redaction,) = [e for e in timeline if e["event_id"] == redacted.event_id]
    assert redaction["type"] == "m.room.redaction"
    # Room v11 moved `redacts` into content; earlier versions keep it top-level.
    assert regretted in (redaction.get("redacts"), redaction["content"].get("redacts"))
    assert redaction["content"].get("reason") == "spoiler"
    status, event = await asyncio.to_thread(
        rawhttp.request,
        "GET",
        f"{alice.homeserver}/_matrix/client/v3/rooms/{room_id}/event/{regretted}",
        token=alice.access_token,
    )
    assert status == 200, event
    assert event["content"] == {}
    assert event["unsigned"]["redacted_because"]["event_id"] == redacted.event_id


async def _check_leave(alice: AsyncClient, bob: AsyncClient, room_id: str) -> None:
    left = await bob.room_leave(room_id)
    assert isinstance(left, RoomLeaveResponse), left

    def is_bobs_leave(e: dict[str, Any]) -> bool:
        return (
            e["type"] == "m.room.member"
            and e["state_key"] == bob.user_id
            and e["content"]["membership"] == "leave"
        )

    await _collect_timeline(
        alice, room_id, lambda seen: any(map(is_bobs_leave, seen)), "bob leaving"
    )
    bob_rooms = await bob.joined_rooms()
    assert isinstance(bob_rooms, JoinedRoomsResponse), bob_rooms
    assert room_id not in bob_rooms.rooms
    alice_rooms = await alice.joined_rooms()
    assert isinstance(alice_rooms, JoinedRoomsResponse), alice_rooms
    assert room_id in alice_rooms.rooms

    latest = await _page(alice, room_id, alice.next_batch, MessageDirection.back, 5)
    assert is_bobs_leave(latest.chunk[0].source), latest.chunk[0].source
    assert latest.chunk[1].source["type"] == "m.room.redaction"


def test_profile_topic_redaction_and_leave(homeserver: Homeserver) -> None:
    asyncio.run(_profile_topic_redaction_leave(homeserver.base_url))
