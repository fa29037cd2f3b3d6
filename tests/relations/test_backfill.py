"""The schema files that index events persisted before search and relations
existed (72_relations_backfill, 73_search_backfill) give the same rows as the
events persister writes (both engines)."""

from typing import Any

from synapse.server import HomeServer
from synapse.storage.prepare import find_schema_files
from tests.reading.conftest import Actions
from tests.rooms.server import requester
from tests.support.twisted import run

_TABLES = ("event_search", "event_relations", "threads")


def _rows_txn(txn: Any) -> dict[str, list[tuple]]:
    rows = {}
    for table, columns in (
        ("event_search", "event_id, room_id, sender, key, value, stream_ordering, origin_server_ts"),
        ("event_relations", "*"),
        ("threads", "*"),
    ):
        txn.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2")
        rows[table] = [tuple(row) for row in txn.fetchall()]
    return rows


def _wipe_and_backfill_txn(txn: Any) -> None:
    engine = txn.database_engine
    for table in _TABLES:
        txn.execute(f"DELETE FROM {table}")
    if not engine.is_postgres:
        txn.execute("DELETE FROM event_search_fts")
    for schema_file in find_schema_files(engine):
        if schema_file.name in ("72_relations_backfill.sql", "73_search_backfill.sql"):
            engine.execute_script(txn.txn, schema_file.path.read_text())


def _match_count_txn(txn: Any, word: str) -> int:
    if txn.database_engine.is_postgres:
        txn.execute("SELECT COUNT(*) FROM event_search WHERE vector @@ plainto_tsquery('english', ?)", (word,))
    else:
        txn.execute("SELECT COUNT(*) FROM event_search_fts WHERE event_search_fts MATCH ?", (word,))
    return int(txn.fetchone()[0])


def test_backfill_matches_what_the_persister_writes(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice", name="Backfill room", topic="old topic")
    root = act.send("alice", room, "root message")
    act.send("alice", room, "first reply", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    latest = act.send("alice", room, "second reply", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    new = {"m.new_content": {"msgtype": "m.text", "body": "edited"}}
    act.send("alice", room, "* edited", **new, **{"m.relates_to": {"rel_type": "m.replace", "event_id": root}})
    reaction = {"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "👍"}}
    run(
        hs.event_creation_handler.create_and_send_event(
            requester("alice"), {"type": "m.reaction", "room_id": room, "content": reaction}
        )
    )
    gone = act.send(
        "alice", room, "redacted thread reply", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}
    )
    redaction = {"type": "m.room.redaction", "room_id": room, "redacts": gone, "content": {}}
    run(hs.event_creation_handler.create_and_send_event(requester("alice"), redaction))
    act.send("alice", room, "not a relation", **{"m.relates_to": {"rel_type": 5, "event_id": root}})
    act.send("alice", room, "", **{"m.relates_to": {"m.in_reply_to": {"event_id": root}}})

    written = run(hs.db.runInteraction("rows", _rows_txn))
    assert len(written["event_relations"]) == 4 and [t[2] for t in written["threads"]] == [latest]
    run(hs.db.runInteraction("backfill", _wipe_and_backfill_txn))
    assert run(hs.db.runInteraction("rows", _rows_txn)) == written
    assert run(hs.db.runInteraction("match", _match_count_txn, "reply")) == 2
    assert run(hs.db.runInteraction("match", _match_count_txn, "redacted")) == 0
