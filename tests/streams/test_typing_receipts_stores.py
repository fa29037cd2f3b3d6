"""The typing and receipts stores on both engines, with rows written by the
streams' own transaction functions; and who sees which receipt."""

from synapse.storage.database import DatabasePool
from synapse.storage.stores.receipts import Receipt, ReceiptsStore
from synapse.storage.stores.typing import TypingStore
from synapse.streams.receipts import _upsert_receipt_txn, receipt_content
from synapse.streams.typing import _expire_txn, _set_typing_txn
from tests.support.twisted import run

R1, R2, R3 = "!one:test", "!two:test", "!three:test"
ALICE, BOB = "@alice:test", "@bob:test"


def _typing(db: DatabasePool, stream_id: int, room_id: str, user_id: str, expires_at_ms: int) -> None:
    run(db.runInteraction("t", _set_typing_txn, stream_id, room_id, user_id, expires_at_ms))


def test_typing_users_leave_out_expired_and_stopped(db_pool: DatabasePool) -> None:
    store = TypingStore(db_pool)
    _typing(db_pool, 1, R1, BOB, 5_000)
    _typing(db_pool, 2, R1, ALICE, 5_000)
    _typing(db_pool, 3, R2, ALICE, 1_000)
    _typing(db_pool, 4, R2, BOB, 0)  # stopped
    assert run(store.get_typing_users([R1, R2, R3], now_ms=500)) == {R1: [ALICE, BOB], R2: [ALICE], R3: []}
    # ALICE's typing in R2 has expired by 1000 ms, even before the expiry write
    assert run(store.get_typing_users([R1, R2], now_ms=1_000)) == {R1: [ALICE, BOB], R2: []}


def test_typing_rooms_changed_and_conditional_expiry(db_pool: DatabasePool) -> None:
    store = TypingStore(db_pool)
    _typing(db_pool, 1, R1, ALICE, 5_000)
    _typing(db_pool, 2, R2, ALICE, 5_000)
    assert sorted(run(store.get_rooms_changed_between(0, 2))) == [R1, R2]
    assert run(store.get_rooms_changed_between(1, 2)) == [R2]
    assert run(store.get_rooms_changed_between(2, 2)) == []
    # renewed typing (new expiry) survives the stale expiry of the old one
    _typing(db_pool, 3, R1, ALICE, 9_000)
    run(db_pool.runInteraction("e", _expire_txn, 4, R1, ALICE, 5_000))
    assert run(store.get_typing_users([R1], now_ms=6_000)) == {R1: [ALICE]}
    run(db_pool.runInteraction("e", _expire_txn, 5, R1, ALICE, 9_000))
    assert run(store.get_typing_users([R1], now_ms=6_000)) == {R1: []}
    assert run(store.get_rooms_changed_between(4, 5)) == [R1]


def _receipt(db: DatabasePool, stream_id: int, room: str, rtype: str, user: str, event: str, thread: str = "") -> None:
    run(db.runInteraction("r", _upsert_receipt_txn, stream_id, room, rtype, user, thread, event, {"ts": stream_id}))


def test_receipts_keep_the_latest_per_room_type_user_and_thread(db_pool: DatabasePool) -> None:
    store = ReceiptsStore(db_pool)
    _receipt(db_pool, 1, R1, "m.read", ALICE, "$a")
    _receipt(db_pool, 2, R1, "m.read", ALICE, "$b")
    _receipt(db_pool, 3, R1, "m.read", ALICE, "$t1", thread="$root")
    _receipt(db_pool, 4, R1, "m.read.private", ALICE, "$c")
    _receipt(db_pool, 5, R2, "m.read", BOB, "$x")
    read = run(store.get_receipt(R1, "m.read", ALICE))
    assert read == Receipt(R1, "m.read", ALICE, "", "$b", {"ts": 2})
    assert run(store.get_receipt(R1, "m.read", ALICE, "$root")).event_id == "$t1"
    assert run(store.get_receipt(R1, "m.read", BOB)) is None

    latest = run(store.get_receipts_for_rooms([R1], 0, 5))
    assert [(r.receipt_type, r.thread_id, r.event_id) for r in latest] == [
        ("m.read", "", "$b"),
        ("m.read", "$root", "$t1"),
        ("m.read.private", "", "$c"),
    ]
    assert [r.event_id for r in run(store.get_receipts_for_rooms([R1, R2], 3, 5))] == ["$c", "$x"]
    assert run(store.get_receipts_for_rooms([R2], 0, 4)) == []
    assert sorted(run(store.get_rooms_changed_between(1, 5))) == [R1, R2]
    assert run(store.get_rooms_changed_between(4, 5)) == [R2]


def test_receipt_content_hides_private_receipts_of_others() -> None:
    receipts = [
        Receipt(R1, "m.read", ALICE, "", "$e", {"ts": 1}),
        Receipt(R1, "m.read", BOB, "main", "$e", {"ts": 2}),
        Receipt(R1, "m.read.private", BOB, "", "$f", {"ts": 3}),
    ]
    shared = {"$e": {"m.read": {ALICE: {"ts": 1}, BOB: {"ts": 2, "thread_id": "main"}}}}
    assert receipt_content(receipts, ALICE) == shared
    assert receipt_content(receipts, BOB) == {**shared, "$f": {"m.read.private": {BOB: {"ts": 3}}}}
