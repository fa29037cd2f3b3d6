"""Relation rows written by the events persister, /relations and /threads
paging, bundled aggregations, redactions, and the handler's errors (both engines)."""

from typing import Any, Callable, Optional

import pytest

from synapse.api.errors import SynapseError
from synapse.server import HomeServer
from tests.reading.conftest import Actions
from tests.rooms.server import requester, user
from tests.support.twisted import run


def relates(rel_type: str, parent: str, **extra: Any) -> dict:
    return {"m.relates_to": {"rel_type": rel_type, "event_id": parent, **extra}}


def redact(hs: HomeServer, who: str, room_id: str, event_id: str) -> None:
    event = {"type": "m.room.redaction", "room_id": room_id, "redacts": event_id, "content": {}}
    run(hs.event_creation_handler.create_and_send_event(requester(who), event))


def send_event(hs: HomeServer, who: str, room_id: str, event_type: str, content: dict) -> str:
    event = {"type": event_type, "room_id": room_id, "content": content}
    return run(hs.event_creation_handler.create_and_send_event(requester(who), event)).event_id


def relations(hs: HomeServer, who: str, room_id: str, event_id: str, **kwargs: Any) -> dict:
    return run(hs.relations_handler.get_relations(requester(who), room_id, event_id, **kwargs))


def threads(hs: HomeServer, who: str, room_id: str, **kwargs: Any) -> dict:
    return run(hs.relations_handler.get_threads(requester(who), room_id, **kwargs))


def ids(chunk: list) -> list:
    return [e["event_id"] for e in chunk]


def errcode(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(SynapseError) as info:
        run(fn(*args, **kwargs))
    return info.value.code, info.value.errcode


def test_relations_page_both_ways_and_filter_by_type(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    root = act.send("alice", room, "root")
    replies = [act.send("alice", room, f"r{i}", **relates("m.thread", root)) for i in range(5)]
    ref = act.send("alice", room, "see above", **relates("m.reference", root))
    reaction = send_event(hs, "alice", room, "m.reaction", relates("m.annotation", root, key="👍"))
    act.send("alice", room, "unrelated")

    everything = relations(hs, "alice", room, root, limit=50)
    assert ids(everything["chunk"]) == [reaction, ref, *reversed(replies)]
    assert "next_batch" not in everything

    first = relations(hs, "alice", room, root, relation_type="m.thread", limit=2)
    assert ids(first["chunk"]) == [replies[4], replies[3]]
    second = relations(hs, "alice", room, root, relation_type="m.thread", limit=2, from_token=first["next_batch"])
    assert ids(second["chunk"]) == [replies[2], replies[1]]
    assert second["prev_batch"] == first["next_batch"]
    third = relations(hs, "alice", room, root, relation_type="m.thread", limit=2, from_token=second["next_batch"])
    assert ids(third["chunk"]) == [replies[0]] and "next_batch" not in third

    forward = relations(hs, "alice", room, root, relation_type="m.thread", direction="f", limit=3)
    assert ids(forward["chunk"]) == replies[:3]
    rest = relations(hs, "alice", room, root, relation_type="m.thread", direction="f", from_token=forward["next_batch"])
    assert ids(rest["chunk"]) == replies[3:]

    by_type = relations(hs, "alice", room, root, relation_type="m.annotation", event_type="m.reaction")
    assert ids(by_type["chunk"]) == [reaction]
    assert relations(hs, "alice", room, root, relation_type="m.annotation", event_type="m.room.message")["chunk"] == []


def test_recurse_follows_relations_of_relations(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    root = act.send("alice", room, "root")
    child = act.send("alice", room, "child", **relates("m.reference", root))
    grandchild = act.send("alice", room, "grandchild", **relates("m.reference", child))
    assert ids(relations(hs, "alice", room, root)["chunk"]) == [child]
    deep = relations(hs, "alice", room, root, recurse=True)
    assert ids(deep["chunk"]) == [grandchild, child]
    assert deep["recursion_depth"] == 3


def test_relations_errors_and_visibility(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    root = act.send("alice", room, "root")
    handler = hs.relations_handler
    assert errcode(handler.get_relations, requester("mallory"), room, root) == (403, "M_FORBIDDEN")
    assert errcode(handler.get_relations, requester("alice"), room, "$nope") == (404, "M_NOT_FOUND")
    other = act.create("alice")
    assert errcode(handler.get_relations, requester("alice"), other, root) == (404, "M_NOT_FOUND")
    assert errcode(handler.get_relations, requester("alice"), room, root, direction="x")[0] == 400
    assert errcode(handler.get_relations, requester("alice"), room, root, from_token="junk") == (400, "M_INVALID_PARAM")
    assert errcode(handler.get_threads, requester("mallory"), room) == (403, "M_FORBIDDEN")
    assert errcode(handler.get_threads, requester("alice"), room, from_token="x") == (400, "M_INVALID_PARAM")


def test_threads_ordered_by_latest_activity_with_participation(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", user("bob"), room, "join")
    first = act.send("alice", room, "first thread")
    second = act.send("bob", room, "second thread")
    third = act.send("bob", room, "third thread")
    act.send("alice", room, "a", **relates("m.thread", first))
    act.send("bob", room, "b", **relates("m.thread", second))
    act.send("bob", room, "c", **relates("m.thread", third))
    act.send("bob", room, "d", **relates("m.thread", first))  # first is now the most recent

    page = threads(hs, "alice", room, limit=2)
    assert ids(page["chunk"]) == [first, third]
    rest = threads(hs, "alice", room, limit=2, from_token=page["next_batch"])
    assert ids(rest["chunk"]) == [second] and "next_batch" not in rest
    assert ids(threads(hs, "alice", room, include="participated")["chunk"]) == [first]
    assert ids(threads(hs, "bob", room, include="participated")["chunk"]) == [first, third, second]
    # thread roots carry their thread aggregation
    bundle = page["chunk"][0]["unsigned"]["m.relations"]["m.thread"]
    assert bundle["count"] == 2 and bundle["latest_event"]["content"]["body"] == "d"
    assert bundle["current_user_participated"] is True


def test_bundled_aggregations_thread_edit_reference(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", user("bob"), room, "join")
    root = act.send("alice", room, "root")
    act.send("bob", room, "in thread", **relates("m.thread", root))
    last = act.send("bob", room, "latest in thread", **relates("m.thread", root))
    new = {"msgtype": "m.text", "body": "root (edited)"}
    act.send("alice", room, "* root (edited)", **{"m.new_content": new}, **relates("m.replace", root))
    act.send("bob", room, "* hijack", **{"m.new_content": new}, **relates("m.replace", root))  # not the sender
    ref = act.send("bob", room, "ref", **relates("m.reference", root))
    plain = act.send("alice", room, "plain")
    act.member("carol", user("carol"), room, "join")  # sees the shared history, took no part

    events = run(hs.stores.events.get_events_as_list([root, plain]))
    for who, participated in (("alice", True), ("bob", True), ("carol", False)):
        bundles = run(hs.relations_handler.get_bundled_aggregations(events, user(who)))
        assert set(bundles) == {root}
        thread = bundles[root]["m.thread"]
        assert thread["count"] == 2 and thread["latest_event"]["event_id"] == last
        assert thread["current_user_participated"] is participated
        assert bundles[root]["m.replace"]["content"]["body"] == "* root (edited)"
        assert bundles[root]["m.reference"] == {"chunk": [{"event_id": ref}]}

    # /messages, /context and event by id show them
    chunk = act.messages("alice", room, limit=50)["chunk"]
    by_id = {e["event_id"]: e for e in chunk}
    assert "m.thread" in by_id[root]["unsigned"]["m.relations"]
    assert "m.relations" not in by_id[plain]["unsigned"]
    single = run(hs.pagination_handler.get_event(requester("alice"), room, root))
    assert single["unsigned"]["m.relations"]["m.replace"]["sender"] == user("alice")
    context = run(hs.pagination_handler.get_event_context(requester("alice"), room, root, 4, None))
    assert "m.relations" in context["event"]["unsigned"]
    # and so does /sync
    timeline = act.sync("alice", filter_json={"room": {"timeline": {"limit": 50}}})["rooms"]["join"][room]["timeline"]
    synced = {e["event_id"]: e for e in timeline["events"]}
    assert synced[root]["unsigned"]["m.relations"]["m.thread"]["count"] == 2


def test_redactions_remove_relations_and_move_the_thread(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    root = act.send("alice", room, "root")
    early = act.send("alice", room, "early", **relates("m.thread", root))
    late = act.send("alice", room, "late", **relates("m.thread", root))
    edit = act.send("alice", room, "* e", **{"m.new_content": {"body": "e"}}, **relates("m.replace", root))
    other_root = act.send("alice", room, "other root")
    lone = act.send("alice", room, "lone", **relates("m.thread", other_root))

    redact(hs, "alice", room, late)
    redact(hs, "alice", room, edit)
    assert ids(relations(hs, "alice", room, root)["chunk"]) == [early]
    root_event = run(hs.stores.events.get_events_as_list([root]))
    bundle = run(hs.relations_handler.get_bundled_aggregations(root_event, user("alice")))[root]
    assert bundle["m.thread"]["latest_event"]["event_id"] == early and bundle["m.thread"]["count"] == 1
    assert "m.replace" not in bundle
    assert ids(threads(hs, "alice", room)["chunk"]) == [other_root, root]
    redact(hs, "alice", room, lone)
    assert ids(threads(hs, "alice", room)["chunk"]) == [root]


def test_redacted_original_gets_no_edit_and_edits_get_no_aggregations(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    root = act.send("alice", room, "root")
    edit = act.send("alice", room, "* e", **{"m.new_content": {"body": "e"}}, **relates("m.replace", root))
    act.send("alice", room, "ref to edit", **relates("m.reference", edit))
    edit_event = run(hs.stores.events.get_events_as_list([edit]))
    assert run(hs.relations_handler.get_bundled_aggregations(edit_event, user("alice"))) == {}
    redact(hs, "alice", room, root)
    root_event = run(hs.stores.events.get_events_as_list([root]))
    bundles: dict[str, Optional[dict]] = run(hs.relations_handler.get_bundled_aggregations(root_event, user("alice")))
    assert root not in bundles


def test_thread_latest_event_carries_its_edit_and_hidden_children_are_left_out(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice", preset="public_chat")
    act.member("bob", user("bob"), room, "join")
    root = act.send("alice", room, "root")
    reply = act.send("bob", room, "reply", **relates("m.thread", root))
    act.send("bob", room, "* reply2", **{"m.new_content": {"body": "reply2"}}, **relates("m.replace", reply))
    root_event = run(hs.stores.events.get_events_as_list([root]))
    latest = run(hs.relations_handler.get_bundled_aggregations(root_event, user("alice")))[root]["m.thread"]
    assert latest["latest_event"]["unsigned"]["m.relations"]["m.replace"]["content"]["body"] == "* reply2"
    # bob leaves; a later reply is invisible to him, so his bundle keeps no thread summary built on it
    act.member("bob", user("bob"), room, "leave")
    act.send("alice", room, "after bob left", **relates("m.thread", root))
    for_bob = run(hs.relations_handler.get_bundled_aggregations(root_event, user("bob")))
    assert "m.thread" not in for_bob.get(root, {})
    for_alice = run(hs.relations_handler.get_bundled_aggregations(root_event, user("alice")))
    assert for_alice[root]["m.thread"]["latest_event"]["content"]["body"] == "after bob left"
