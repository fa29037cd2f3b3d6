"""The to_device stream's writes and its store's reads on SQLite and
PostgreSQL: recipients, transaction ids, per-device reads with a limit,
acknowledged deletion, the reader hook and the /sync contribution."""

from typing import Any

import pytest

from synapse.api.filtering import FilterCollection
from synapse.server import HomeServer
from synapse.streams.base import SyncContext
from synapse.streams.to_device import SYNC_MESSAGE_LIMIT, ToDeviceStream
from tests.rooms.server import make_homeserver, user
from tests.support.twisted import run

ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


@pytest.fixture
def hs(db_pool: Any) -> HomeServer:
    hs = run(make_homeserver(db_pool))
    for who, devices in ((BOB, ("B1", "B2", "B3")), (CAROL, ("C1",))):
        for device_id in devices:
            run(hs.stores.devices.store_device(who, device_id, None))
    return hs


def stream(hs: HomeServer) -> ToDeviceStream:
    return hs.user_streams["to_device"]  # type: ignore[return-value]


def send(hs: HomeServer, messages: dict, txn_id: str = "t1", sender_device: str = "A1", kind: str = "m.x") -> int:
    return run(stream(hs).send_messages(ALICE, sender_device, txn_id, kind, messages))


def inbox(hs: HomeServer, who: str, device_id: str, from_pos: int = 0, limit: int = 1000) -> list[dict]:
    found = run(hs.stores.to_device.get_messages_for_device(who, device_id, from_pos, 1 << 40, limit))
    return [m.message for m in found]


def test_recipients_star_unknown_remote_and_explicit_over_star(hs: HomeServer) -> None:
    send(
        hs,
        {
            BOB: {"*": {"n": "all"}, "B2": {"n": "mine"}, "NOPE": {"n": "x"}},
            CAROL: {"C1": {"n": 1}},
            user("nobody"): {"*": {"n": 2}},
            "@remote:elsewhere.example": {"*": {"n": 3}},
        },
    )
    assert inbox(hs, BOB, "B1") == [{"sender": ALICE, "type": "m.x", "content": {"n": "all"}}]
    assert inbox(hs, BOB, "B2") == [{"sender": ALICE, "type": "m.x", "content": {"n": "mine"}}]
    assert inbox(hs, BOB, "B3") == [{"sender": ALICE, "type": "m.x", "content": {"n": "all"}}]
    assert inbox(hs, BOB, "NOPE") == []
    assert inbox(hs, CAROL, "C1") == [{"sender": ALICE, "type": "m.x", "content": {"n": 1}}]
    # '*' expands at send time: a device added later gets nothing
    run(hs.stores.devices.store_device(BOB, "B4", None))
    assert inbox(hs, BOB, "B4") == []


def test_one_position_per_send_and_reader_hook(hs: HomeServer) -> None:
    first = send(hs, {BOB: {"B1": {"n": 1}, "B2": {"n": 1}}, CAROL: {"C1": {}}}, txn_id="a")
    second = send(hs, {CAROL: {"C1": {}}}, txn_id="b")
    assert second == first + 1
    assert hs.id_generators["to_device"].get_current_token() == second
    found = run(hs.stores.to_device.get_messages_for_device(BOB, "B1", 0, second, 10))
    assert [m.stream_id for m in found] == [first]
    updates = run(stream(hs).read_updates("master", 0, first))
    assert sorted(updates.users) == [BOB, CAROL]
    assert run(stream(hs).read_updates("master", first, second)).users == [CAROL]


def test_transaction_id_is_idempotent_per_sending_device(hs: HomeServer) -> None:
    send(hs, {BOB: {"B1": {"n": 1}}}, txn_id="same")
    send(hs, {BOB: {"B1": {"n": 1}}}, txn_id="same")
    assert len(inbox(hs, BOB, "B1")) == 1
    # the same txn id from another device of the sender is another request
    send(hs, {BOB: {"B1": {"n": 2}}}, txn_id="same", sender_device="A2")
    assert [m["content"] for m in inbox(hs, BOB, "B1")] == [{"n": 1}, {"n": 2}]


def test_concurrent_retries_deliver_once(hs: HomeServer) -> None:
    from twisted.internet import defer

    async def both() -> None:
        calls = [stream(hs).send_messages(ALICE, "A1", "race", "m.x", {BOB: {"B1": {}}}) for _ in range(3)]
        await defer.gatherResults([defer.ensureDeferred(c) for c in calls])

    run(both())
    assert len(inbox(hs, BOB, "B1")) == 1


def test_reads_are_ordered_ranged_and_limited(hs: HomeServer) -> None:
    positions = [send(hs, {BOB: {"B1": {"i": i}}}, txn_id=f"t{i}") for i in range(5)]
    found = run(hs.stores.to_device.get_messages_for_device(BOB, "B1", positions[0], positions[3], 10))
    assert [m.message["content"]["i"] for m in found] == [1, 2, 3]
    found = run(hs.stores.to_device.get_messages_for_device(BOB, "B1", 0, positions[-1], 2))
    assert [m.stream_id for m in found] == positions[:2]
    assert run(hs.stores.to_device.has_messages_up_to(BOB, "B1", positions[0])) is True
    assert run(hs.stores.to_device.has_messages_up_to(BOB, "B2", positions[-1])) is False


def test_delete_acknowledged_only_up_to_and_for_that_device(hs: HomeServer) -> None:
    first = send(hs, {BOB: {"*": {"i": 1}}}, txn_id="a")
    send(hs, {BOB: {"*": {"i": 2}}}, txn_id="b")
    run(stream(hs).delete_acknowledged(BOB, "B1", first))
    assert [m["content"] for m in inbox(hs, BOB, "B1")] == [{"i": 2}]
    assert [m["content"] for m in inbox(hs, BOB, "B2")] == [{"i": 1}, {"i": 2}]


def _ctx(hs: HomeServer, since: int, device_id: Any = "B1", full_state: bool = False) -> SyncContext:
    return SyncContext(
        user_id=BOB,
        device_id=device_id,
        from_pos=0 if full_state else since,
        to_pos=hs.id_generators["to_device"].get_current_token(),
        joined_room_ids=(),
        filter=FilterCollection(None),
        since_pos=since,
    )


def test_sync_contribution_acknowledges_and_caps(hs: HomeServer) -> None:
    sent = [send(hs, {BOB: {"B1": {"i": i}}}, txn_id=f"t{i}") for i in range(SYNC_MESSAGE_LIMIT + 5)]
    first = run(stream(hs).sync(_ctx(hs, 0)))
    assert [e["content"]["i"] for e in first.top_level["to_device"]["events"]] == list(range(SYNC_MESSAGE_LIMIT))
    assert first.position == sent[SYNC_MESSAGE_LIMIT - 1]
    # the same since again: the same messages, nothing deleted
    again = run(stream(hs).sync(_ctx(hs, 0)))
    assert again.top_level == first.top_level
    # continuing from the capped position deletes what it acknowledges
    rest = run(stream(hs).sync(_ctx(hs, first.position)))
    assert [e["content"]["i"] for e in rest.top_level["to_device"]["events"]] == list(range(SYNC_MESSAGE_LIMIT, 105))
    assert rest.position is None
    assert len(inbox(hs, BOB, "B1")) == 5
    # a full_state sync still acknowledges up to its since and delivers after it
    full = run(stream(hs).sync(_ctx(hs, sent[-3], full_state=True)))
    assert [e["content"]["i"] for e in full.top_level["to_device"]["events"]] == [103, 104]
    assert len(inbox(hs, BOB, "B1")) == 2
    assert not run(stream(hs).sync(_ctx(hs, sent[-1])))
    assert inbox(hs, BOB, "B1") == []
    # a requester without a device (e.g. an appservice) has no inbox
    assert not run(stream(hs).sync(_ctx(hs, 0, device_id=None)))
