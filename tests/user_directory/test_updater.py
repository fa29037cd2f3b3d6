"""The directory updater driven by real room events on both engines:
initial population, joins, leaves, profile changes, public rooms, local
accounts, and resuming from the saved position."""

from types import SimpleNamespace
from typing import Any

import pytest

from synapse.server import HomeServer
from tests.rooms.server import make_config, make_homeserver, requester, user
from tests.support.twisted import run

ALICE, BOB, CAROL, DAVE = user("alice"), user("bob"), user("carol"), user("dave")


def _config(**directory: Any) -> SimpleNamespace:
    config = make_config()
    options = {"enabled": True, "search_all_users": False, "prefer_local_users": False, **directory}
    config.userdirectory = SimpleNamespace(**options)
    return config


def _account(hs: HomeServer, user_id: str, displayname: Any = None, avatar_url: Any = None) -> None:
    """A local account (accounts area tables), with its profile also set in
    the rooms tests' profile double so member events carry it."""

    async def go() -> None:
        await hs.db.simple_insert("users", {"name": user_id, "creation_ts": 1})
        await hs.db.simple_insert(
            "profiles", {"user_id": user_id, "displayname": displayname, "avatar_url": avatar_url}
        )

    run(go())
    hs.stores.profile.profiles[user_id] = {"displayname": displayname, "avatar_url": avatar_url}


@pytest.fixture
def hs(db_pool: Any) -> HomeServer:
    server = run(make_homeserver(db_pool, _config()))
    for user_id in (ALICE, BOB, CAROL, DAVE):
        _account(server, user_id, user_id[1:].split(":")[0].title())
    return server


def _search(hs: HomeServer, who: str, term: str) -> list[str]:
    response = run(hs.user_directory_handler.search(who, term, 10))
    return [r["user_id"] for r in response["results"]]


def _update(hs: HomeServer) -> None:
    run(hs.user_directory_handler.run_updater())


def _create(hs: HomeServer, who: str, **config: Any) -> str:
    return run(hs.room_creation_handler.create_room(requester(who.split(":")[0][1:]), config))[0]


def _member(hs: HomeServer, who: str, room_id: str, action: str, **kwargs: Any) -> None:
    localpart = who.split(":")[0][1:]
    run(hs.room_member_handler.update_membership(requester(localpart), who, room_id, action, **kwargs))


def test_population_joins_and_leaves(hs: HomeServer) -> None:
    private = _create(hs, ALICE, preset="private_chat", invite=[BOB])
    _member(hs, BOB, private, "join")
    assert _search(hs, ALICE, "bob") == []  # nothing until the updater runs
    _update(hs)
    assert run(hs.stores.user_directory.get_position()) == hs.id_generators["events"].get_current_token()
    assert _search(hs, ALICE, "bob") == [BOB]
    assert _search(hs, CAROL, "bob") == []  # carol shares no room with bob
    _member(hs, BOB, private, "leave")
    _update(hs)
    assert _search(hs, ALICE, "bob") == []


def test_public_rooms_by_join_rule_or_world_readable(hs: HomeServer) -> None:
    public = _create(hs, ALICE, preset="public_chat")
    _member(hs, BOB, public, "join")
    _update(hs)
    assert _search(hs, DAVE, "bob") == [BOB]
    # no longer publicly joinable: bob disappears for dave ...
    run(hs.event_creation_handler.create_and_send_event(
        requester("alice"),
        {"type": "m.room.join_rules", "state_key": "", "room_id": public, "content": {"join_rule": "invite"}},
    ))  # fmt: skip
    _update(hs)
    assert _search(hs, DAVE, "bob") == []
    # ... until the room's history becomes world readable
    run(hs.event_creation_handler.create_and_send_event(
        requester("alice"),
        {
            "type": "m.room.history_visibility", "state_key": "", "room_id": public,
            "content": {"history_visibility": "world_readable"},
        },
    ))  # fmt: skip
    _update(hs)
    assert _search(hs, DAVE, "bob") == [BOB]


def test_profile_changes_and_new_accounts(hs: HomeServer) -> None:
    _update(hs)
    assert _search(hs, ALICE, "carol") == []  # in no room, search_all_users off
    hs.config.userdirectory.search_all_users = True
    assert _search(hs, ALICE, "carol") == [CAROL]
    run(hs.db.simple_update_one("profiles", {"user_id": CAROL}, {"displayname": "Karen", "avatar_url": "mxc://h/k"}))
    _account(hs, "@newbie:test.local", "Fresh Face")
    _update(hs)
    assert _search(hs, ALICE, "carol") == [CAROL]  # the user id still matches
    response = run(hs.user_directory_handler.search(ALICE, "kar", 10))
    assert response == {
        "results": [{"user_id": CAROL, "display_name": "Karen", "avatar_url": "mxc://h/k"}],
        "limited": False,
    }
    assert _search(hs, ALICE, "fresh fa") == ["@newbie:test.local"]
    run(hs.db.simple_update_one("users", {"name": CAROL}, {"deactivated": True}))
    _update(hs)
    assert _search(hs, ALICE, "karen") == []


def test_disabled_directory_answers_nothing(hs: HomeServer) -> None:
    _update(hs)
    hs.config.userdirectory.search_all_users = True
    assert _search(hs, ALICE, "bob") == [BOB]
    hs.config.userdirectory.enabled = False
    assert run(hs.user_directory_handler.search(ALICE, "bob", 10)) == {"results": [], "limited": False}


def test_restart_resumes_from_the_saved_position(hs: HomeServer, db_pool: Any) -> None:
    room = _create(hs, ALICE, preset="public_chat")
    _update(hs)
    position = run(hs.stores.user_directory.get_position())
    _member(hs, BOB, room, "join")
    # a fresh process on the same database: reads only what came after
    restarted = run(make_homeserver(db_pool, _config()))
    seen: list[tuple[int, int]] = []
    store = restarted.stores.user_directory
    original = store.get_rooms_with_directory_changes

    async def recording(from_pos: int, to_pos: int) -> list[str]:
        seen.append((from_pos, to_pos))
        return await original(from_pos, to_pos)

    store.get_rooms_with_directory_changes = recording
    _update(restarted)
    assert seen == [(position, restarted.id_generators["events"].get_current_token())]
    assert _search(restarted, DAVE, "bob") == [BOB]


def test_population_works_in_batches(hs: HomeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from synapse.handlers import user_directory

    monkeypatch.setattr(user_directory, "STREAM_BATCH", 3)
    room = _create(hs, ALICE, preset="public_chat")
    _member(hs, BOB, room, "join")
    store = hs.stores.user_directory
    saved: list[int] = []
    original = store.set_position

    async def recording(position: int) -> None:
        saved.append(position)
        await original(position)

    store.set_position = recording
    _update(hs)
    current = hs.id_generators["events"].get_current_token()
    assert saved == [0, *range(3, current, 3), current]  # 0: population started
    assert _search(hs, DAVE, "bob") == [BOB] and _search(hs, DAVE, "alice") == [ALICE]


def test_remote_members_go_when_the_last_local_member_leaves(hs: HomeServer) -> None:
    zed = "@zed:far.test"
    room = _create(hs, ALICE, preset="public_chat")
    joined = hs.stores.members.get_joined_members

    async def with_remote_member(room_id: str) -> dict[str, Any]:
        # a remote member, as if they had joined over federation
        return {**await joined(room_id), zed: {"display_name": "Zed", "avatar_url": "mxc://far/z"}}

    hs.stores.members.get_joined_members = with_remote_member
    _update(hs)
    assert run(hs.user_directory_handler.search(DAVE, "zed", 10))["results"] == [
        {"user_id": zed, "display_name": "Zed", "avatar_url": "mxc://far/z"}
    ]
    _member(hs, ALICE, room, "leave")
    _update(hs)
    assert _search(hs, DAVE, "zed") == []
