"""UserDirectoryStore on SQLite and PostgreSQL: word-prefix matching,
visibility, ranking, room bookkeeping and local account comparison."""

from typing import Any

from synapse.storage.stores.user_directory import (
    DirectoryEntry,
    UserDirectoryStore,
    search_text,
    search_words,
)
from tests.support.twisted import run

HERE = "here.test"
ALICE, BOB, CAROL, DAVE = "@alice:here.test", "@bob:here.test", "@carol:here.test", "@dave:here.test"
REMOTE = "@zed:far.test"


def test_search_text_splits_and_casefolds() -> None:
    assert search_words("Ärger-Über  Straße") == ["ärger", "über", "strasse"]
    assert search_text("@alice.smith:here.test", "Alice S") == " alice s alice smith here test "
    assert search_text("@bob:here.test", None) == " bob here test "


def _users(db: Any, *rows: tuple) -> None:
    """Local accounts and profiles (accounts area tables) for the comparison."""

    async def go() -> None:
        for user_id, displayname, avatar, deactivated, user_type in rows:
            await db.simple_insert(
                "users",
                {"name": user_id, "creation_ts": 1, "deactivated": deactivated, "user_type": user_type},
            )
            await db.simple_insert("profiles", {"user_id": user_id, "displayname": displayname, "avatar_url": avatar})

    run(go())


def _store_with(db: Any, *entries: DirectoryEntry) -> UserDirectoryStore:
    store = UserDirectoryStore(db)
    run(store.upsert_entries(entries))
    return store


def _ids(result: tuple) -> list[str]:
    return [e.user_id for e in result[0]]


def test_word_prefix_case_insensitive_and_every_word(db_pool: Any) -> None:
    store = _store_with(
        db_pool,
        DirectoryEntry(ALICE, "Alice Smith", None),
        DirectoryEntry(BOB, "Bobby Tables", "mxc://x/y"),
        DirectoryEntry(CAROL, "Smithers", None),
    )
    search = lambda term: _ids(run(store.search(DAVE, term, 10, True, None)))  # noqa: E731
    assert search("SMI") == [ALICE, CAROL]
    assert search("ali smi") == [ALICE]
    assert search("mith") == []  # prefixes only, not substrings
    assert search("bob") == [BOB]  # user id words match too
    assert search("here") == [BOB, ALICE, CAROL]  # bob has an avatar
    assert search("%") == [] and search("_") == []  # LIKE wildcards are escaped / no words


def test_limit_and_limited(db_pool: Any) -> None:
    store = _store_with(db_pool, *(DirectoryEntry(f"@u{i}:{HERE}", f"User {i}", None) for i in range(5)))
    entries, limited = run(store.search(DAVE, "user", 3, True, None))
    assert len(entries) == 3 and limited
    entries, limited = run(store.search(DAVE, "user", 5, True, None))
    assert len(entries) == 5 and not limited


def test_search_all_users_excludes_only_the_searcher(db_pool: Any) -> None:
    store = _store_with(db_pool, DirectoryEntry(ALICE, "Alice", None), DirectoryEntry(BOB, "Bob", None))
    assert _ids(run(store.search(ALICE, "here", 10, True, None))) == [BOB]


def test_visibility_public_rooms_and_shared_rooms(db_pool: Any) -> None:
    entries = {u: DirectoryEntry(u, u[1:].split(":")[0].title(), None) for u in (ALICE, BOB, CAROL, DAVE)}
    store = _store_with(db_pool, *entries.values())
    run(store.update_room("!private:h", False, {ALICE: entries[ALICE], BOB: entries[BOB]}, HERE))
    run(store.update_room("!public:h", True, {CAROL: entries[CAROL]}, HERE))
    visible = lambda who: _ids(run(store.search(who, "here", 10, False, None)))  # noqa: E731
    assert visible(ALICE) == [ALICE, BOB, CAROL]  # the shared room ranks before the public one
    assert visible(DAVE) == [CAROL]  # in no room: sees only public room members
    # the room turns public; then bob leaves
    run(store.update_room("!private:h", True, {ALICE: entries[ALICE], BOB: entries[BOB]}, HERE))
    assert visible(DAVE) == [ALICE, BOB, CAROL]
    run(store.update_room("!private:h", True, {ALICE: entries[ALICE]}, HERE))
    assert visible(DAVE) == [ALICE, CAROL]


def test_remote_users_follow_their_rooms(db_pool: Any) -> None:
    store = UserDirectoryStore(db_pool)
    run(store.update_room("!a:h", True, {REMOTE: DirectoryEntry(REMOTE, "Zed", None)}, HERE))
    run(store.update_room("!b:h", True, {REMOTE: DirectoryEntry(REMOTE, "Zed Renamed", "mxc://far/z")}, HERE))
    [entry], _ = run(store.search(ALICE, "zed", 10, True, None))
    assert entry == DirectoryEntry(REMOTE, "Zed Renamed", "mxc://far/z")
    run(store.update_room("!a:h", True, {}, HERE))
    assert _ids(run(store.search(ALICE, "zed", 10, True, None))) == [REMOTE]  # still in !b
    run(store.update_room("!b:h", True, {}, HERE))
    assert _ids(run(store.search(ALICE, "zed", 10, True, None))) == []


def test_local_users_stay_when_they_leave_every_room(db_pool: Any) -> None:
    store = _store_with(db_pool, DirectoryEntry(ALICE, "Alice", None))
    run(store.update_room("!a:h", True, {ALICE: DirectoryEntry(ALICE, "Room nick", None)}, HERE))
    run(store.update_room("!a:h", True, {}, HERE))
    [entry], _ = run(store.search(BOB, "alice", 10, True, None))
    assert entry.display_name == "Alice"  # a local user's room nickname never replaces the profile


def test_ranking_exact_then_local_then_profile(db_pool: Any) -> None:
    store = _store_with(
        db_pool,
        DirectoryEntry("@annabel:far.test", "Annabel", "mxc://a/b"),
        DirectoryEntry("@anna2:here.test", "Anna Two", None),
        DirectoryEntry("@annie:here.test", "Annie", "mxc://a/c"),
        DirectoryEntry("@anne:here.test", None, None),
    )
    found = lambda prefer: _ids(run(store.search(DAVE, "anna", 10, True, prefer)))  # noqa: E731
    # a whole-word match first; then display name and avatar count
    assert found(None) == ["@anna2:here.test", "@annabel:far.test"]
    assert _ids(run(store.search(DAVE, "ann", 10, True, None))) == [
        "@annabel:far.test", "@annie:here.test", "@anna2:here.test", "@anne:here.test",
    ]  # fmt: skip
    assert _ids(run(store.search(DAVE, "ann", 10, True, HERE))) == [
        "@annie:here.test", "@anna2:here.test", "@anne:here.test", "@annabel:far.test",
    ]  # fmt: skip


def test_local_user_changes(db_pool: Any) -> None:
    _users(
        db_pool,
        (ALICE, "Alice", None, False, None),
        (BOB, None, None, False, None),
        (CAROL, "Carol", None, True, None),
        ("@support:here.test", "Help", None, False, "support"),
    )
    store = UserDirectoryStore(db_pool)
    changes = run(store.get_local_user_changes(10))
    assert changes.upserts == [DirectoryEntry(ALICE, "Alice", None), DirectoryEntry(BOB, None, None)]
    assert changes.removals == []
    run(store.upsert_entries(changes.upserts + [DirectoryEntry(CAROL, "Carol", None)]))
    run(db_pool.simple_update_one("profiles", {"user_id": BOB}, {"avatar_url": "mxc://b/b"}))
    changes = run(store.get_local_user_changes(10))
    assert changes.upserts == [DirectoryEntry(BOB, None, "mxc://b/b")]
    assert changes.removals == [CAROL]  # deactivated
    assert len(run(store.get_local_user_changes(1)).upserts) == 1  # batches


def test_position_and_changed_rooms(db_pool: Any) -> None:
    store = UserDirectoryStore(db_pool)
    assert run(store.get_position()) is None
    run(store.set_position(7))
    run(store.set_position(9))
    assert run(store.get_position()) == 9

    async def events() -> None:
        rows = [
            (1, "!a:h", "m.room.member", "@x:h"),
            (2, "!b:h", "m.room.message", None),
            (3, "!c:h", "m.room.join_rules", ""),
            (4, "!d:h", "m.room.history_visibility", ""),
            (5, "!e:h", "m.room.topic", ""),
        ]
        for pos, room, etype, key in rows:
            await db_pool.simple_insert(
                "events",
                {
                    "stream_ordering": pos, "event_id": f"$e{pos}", "room_id": room, "type": etype,
                    "state_key": key, "sender": "@x:h", "depth": 1, "origin_server_ts": 1,
                    "received_ts": 1, "instance_name": "main",
                },
            )  # fmt: skip

    run(events())
    assert run(store.get_rooms_with_directory_changes(0, 5)) == ["!a:h", "!c:h", "!d:h"]
    assert run(store.get_rooms_with_directory_changes(1, 3)) == ["!c:h"]
