"""The search index (written by the events persister), the store's matching
and ranking on both engines, the query parser, and the search handler."""

from typing import Any, Callable

import pytest

from synapse.api.errors import SynapseError
from synapse.api.filtering import Filter
from synapse.server import HomeServer
from synapse.storage.stores.search import parse_query
from tests.reading.conftest import Actions
from tests.rooms.server import requester, user
from tests.support.twisted import run


def redact(hs: HomeServer, who: str, room_id: str, event_id: str) -> None:
    event = {"type": "m.room.redaction", "room_id": room_id, "redacts": event_id, "content": {}}
    run(hs.event_creation_handler.create_and_send_event(requester(who), event))


def search(hs: HomeServer, room_ids: list[str], query: str, **kwargs: Any) -> list[str]:
    page = run(hs.stores.search.search(room_ids, query, **kwargs))
    return [event.content.get("body") for event, _ in page.results]


def errcode(fn: Callable[..., Any], *args: Any) -> tuple[int, str]:
    with pytest.raises(SynapseError) as info:
        run(fn(*args))
    return info.value.code, info.value.errcode


# -- the query parser (SQLite's FTS5 expression, highlights) ---------------------
def test_parse_query_words_phrases_or_and_negation() -> None:
    parsed = parse_query('cats "big dogs" OR mice -snakes')
    assert parsed.clauses == [[["cats"]], [["big", "dogs"], ["mice"]]]
    assert parsed.excluded == [["snakes"]]
    assert parsed.words() == ["cats", "big", "dogs", "mice"]
    assert parsed.to_fts5() == '(("cats") AND ("big dogs" OR "mice")) NOT "snakes"'


def test_parse_query_drops_punctuation_and_fts_syntax() -> None:
    parsed = parse_query('Hello, World! NEAR(x) * "unterminated')
    assert parsed.words() == ["hello", "world", "near", "x", "unterminated"]
    expression = parsed.to_fts5()
    assert expression is not None and "*" not in expression and "," not in expression
    assert parse_query("  -only ").to_fts5() is None
    assert parse_query("").clauses == []


# -- the store over events persisted for real -----------------------------------
def test_persisted_messages_names_and_topics_are_searchable(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice", name="Gardening club", topic="Tomatoes and roses")
    act.send("alice", room, "the tomatoes are ripening")
    act.send("alice", room, "nothing to see here")
    assert set(search(hs, [room], "tomatoes")) == {"the tomatoes are ripening", None}
    page = run(hs.stores.search.search([room], "tomatoes"))
    types = {event.type for event, _ in page.results}
    assert types == {"m.room.message", "m.room.topic"}
    assert page.count == 2
    only_topic = run(hs.stores.search.search([room], "tomatoes", keys=["content.topic"]))
    assert [e.type for e, _ in only_topic.results] == ["m.room.topic"]
    assert [e.type for e, _ in run(hs.stores.search.search([room], "gardening")).results] == ["m.room.name"]
    # stemming on both engines
    assert search(hs, [room], "ripen") == ["the tomatoes are ripening"]


def test_rank_prefers_better_matches_and_recent_orders_by_stream(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    act.send("alice", room, "apple")
    act.send("alice", room, "apple apple apple pie with apple")
    act.send("alice", room, "banana and one apple among many other words in this long sentence")
    ranked = run(hs.stores.search.search([room], "apple"))
    scores = [score for _, score in ranked.results]
    assert scores == sorted(scores, reverse=True)
    assert ranked.results[-1][0].content["body"].startswith("banana")
    assert search(hs, [room], "apple", order_by="recent") == [
        "banana and one apple among many other words in this long sentence",
        "apple apple apple pie with apple",
        "apple",
    ]


def test_phrases_or_and_negation_match_alike_on_both_engines(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    act.send("alice", room, "red car parked")
    act.send("alice", room, "car is red")
    act.send("alice", room, "blue bike")
    assert sorted(search(hs, [room], '"red car"')) == ["red car parked"]
    assert sorted(search(hs, [room], "car OR bike")) == ["blue bike", "car is red", "red car parked"]
    assert sorted(search(hs, [room], "car -parked")) == ["car is red"]
    assert search(hs, [room], "-car") == []


def test_rooms_filter_and_paging(act: Actions, hs: HomeServer) -> None:
    one, two = act.create("alice"), act.create("alice")
    for i in range(5):
        act.send("alice", one, f"kiwi {i}")
    act.send("alice", two, "kiwi elsewhere")
    assert len(search(hs, [one], "kiwi")) == 5
    assert len(search(hs, [one, two], "kiwi")) == 6
    assert search(hs, [], "kiwi") == []
    typed = search(hs, [one, two], "kiwi", event_filter=Filter({"types": ["m.room.topic"]}))
    assert typed == []
    by_sender = search(hs, [one], "kiwi", event_filter=Filter({"senders": [user("carol")]}))
    assert by_sender == []
    first = run(hs.stores.search.search([one], "kiwi", order_by="recent", limit=2))
    assert [e.content["body"] for e, _ in first.results] == ["kiwi 4", "kiwi 3"]
    second = run(hs.stores.search.search([one], "kiwi", order_by="recent", limit=2, before_stream=first.last_stream))
    assert [e.content["body"] for e, _ in second.results] == ["kiwi 2", "kiwi 1"]
    ranked = run(hs.stores.search.search([one], "kiwi", limit=2, offset=4))
    assert len(ranked.results) == 1 and ranked.count == 5


def test_redaction_removes_the_event_from_the_index(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice")
    secret = act.send("alice", room, "my password is hunter2")
    act.send("alice", room, "hunter2 was a joke")
    redact(hs, "alice", room, secret)
    assert search(hs, [room], "hunter2") == ["hunter2 was a joke"]
    assert run(hs.stores.search.search([room], "password")).count == 0


# -- the handler -------------------------------------------------------------------
def do_search(hs: HomeServer, who: str, room_events: dict, next_batch: Any = None) -> dict:
    body = {"search_categories": {"room_events": room_events}}
    return run(hs.search_handler.search(requester(who), body, next_batch))["search_categories"]["room_events"]


def test_handler_searches_only_rooms_the_user_may_read(act: Actions, hs: HomeServer) -> None:
    mine = act.create("alice", preset="public_chat")
    theirs = act.create("bob")
    act.send("alice", mine, "secret plan alpha")
    act.send("bob", theirs, "secret plan beta")
    result = do_search(hs, "alice", {"search_term": "secret"})
    assert [r["result"]["content"]["body"] for r in result["results"]] == ["secret plan alpha"]
    assert result["count"] == 1 and result["highlights"] == ["secret"]
    # bob joins alice's room, then leaves: he keeps what he could see, nothing after
    act.member("bob", user("bob"), mine, "join")
    act.send("alice", mine, "secret plan gamma")
    act.member("bob", user("bob"), mine, "leave")
    act.send("alice", mine, "secret plan delta")
    seen = do_search(hs, "bob", {"search_term": "secret", "order_by": "recent"})
    bodies = [r["result"]["content"]["body"] for r in seen["results"]]
    assert bodies == ["secret plan gamma", "secret plan beta", "secret plan alpha"]


def test_handler_context_state_groups_and_paging(act: Actions, hs: HomeServer) -> None:
    room = act.create("alice", name="Fruit")
    act.send("alice", room, "before")
    target = act.send("alice", room, "mango season")
    act.send("alice", room, "after")
    result = do_search(
        hs,
        "alice",
        {
            "search_term": "mango",
            "event_context": {"before_limit": 1, "after_limit": 1, "include_profile": True},
            "include_state": True,
            "groupings": {"group_by": [{"key": "room_id"}, {"key": "sender"}]},
        },
    )
    (entry,) = result["results"]
    assert entry["result"]["event_id"] == target and isinstance(entry["rank"], float)
    context = entry["context"]
    assert [e["content"]["body"] for e in context["events_before"]] == ["before"]
    assert [e["content"]["body"] for e in context["events_after"]] == ["after"]
    assert context["start"] and context["end"]
    assert user("alice") in context["profile_info"]
    assert any(e["type"] == "m.room.name" for e in result["state"][room])
    assert result["groups"]["room_id"][room] == {"results": [target], "order": 1}
    assert result["groups"]["sender"][user("alice")]["results"] == [target]

    for i in range(3):
        act.send("alice", room, f"papaya {i}")
    page1 = do_search(hs, "alice", {"search_term": "papaya", "filter": {"limit": 2}, "order_by": "recent"})
    assert len(page1["results"]) == 2 and page1["next_batch"].startswith("s")
    page2 = do_search(
        hs, "alice", {"search_term": "papaya", "filter": {"limit": 2}, "order_by": "recent"}, page1["next_batch"]
    )
    assert [r["result"]["content"]["body"] for r in page2["results"]] == ["papaya 0"]
    assert "next_batch" not in page2
    ranked = do_search(hs, "alice", {"search_term": "papaya", "filter": {"limit": 2}})
    assert ranked["next_batch"] == "r2"
    rest = do_search(hs, "alice", {"search_term": "papaya", "filter": {"limit": 2}}, "r2")
    assert len(rest["results"]) == 1 and "next_batch" not in rest
    assert "next_batch" not in do_search(hs, "alice", {"search_term": "papaya", "filter": {"limit": 3}})


def test_handler_rejects_bad_bodies_and_tokens(hs: HomeServer) -> None:
    alice = requester("alice")
    handler = hs.search_handler

    def code(body: Any, next_batch: Any = None) -> tuple[int, str]:
        return errcode(handler.search, alice, body, next_batch)

    assert code({}) == (400, "M_BAD_JSON")
    assert code({"search_categories": {"room_events": {}}}) == (400, "M_BAD_JSON")
    assert code({"search_categories": {"room_events": {"search_term": 3}}}) == (400, "M_BAD_JSON")
    bad_keys = {"search_categories": {"room_events": {"search_term": "x", "keys": ["content.nope"]}}}
    assert code(bad_keys) == (400, "M_INVALID_PARAM")
    bad_order = {"search_categories": {"room_events": {"search_term": "x", "order_by": "oldest"}}}
    assert code(bad_order) == (400, "M_INVALID_PARAM")
    bad_filter = {"search_categories": {"room_events": {"search_term": "x", "filter": {"limit": "ten"}}}}
    assert code(bad_filter) == (400, "M_BAD_JSON")
    bad_group = {
        "search_categories": {"room_events": {"search_term": "x", "groupings": {"group_by": [{"key": "type"}]}}}
    }
    assert code(bad_group) == (400, "M_INVALID_PARAM")
    good = {"search_categories": {"room_events": {"search_term": "x"}}}
    assert code(good, "garbage") == (400, "M_UNKNOWN")
    assert code(good, "s12") == (400, "M_UNKNOWN")  # a recent-order token in rank order
    assert run(handler.search(alice, {"search_categories": {}})) == {"search_categories": {}}
