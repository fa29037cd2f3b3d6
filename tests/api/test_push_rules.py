"""Push rules, unread counts and /notifications over real HTTP: a monolith on
each database and the worker deployment behind nginx (push rule writes on
the stream_writer2 worker, receipts on stream_writer, events created on generic workers and persisted
by two event persisters, /sync on generic workers)."""

import json
import time
import urllib.parse
from typing import Any, Callable, Iterator, Optional

import pytest

from synapse.push.rules import DEFAULT_OVERRIDE, DEFAULT_UNDERRIDE
from tests.accounts.client import Client, new_user, q, shared_room
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


def sync(client: Client, since: Optional[str] = None, filter_json: Optional[dict] = None) -> dict[str, Any]:
    params = {}
    if since is not None:
        params["since"] = since
        params["timeout"] = "0"
    if filter_json is not None:
        params["filter"] = json.dumps(filter_json)
    status, body = client.get("/sync" + ("?" + urllib.parse.urlencode(params) if params else ""))
    assert status == 200, body
    return body


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Retries `check` until it returns something truthy (a worker may see
    another process's write a moment later than its writer does)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def sync_until(
    client: Client,
    since: Optional[str],
    check: Callable[[dict[str, Any]], bool],
    filter_json: Optional[dict] = None,
) -> dict[str, Any]:
    """The first sync from `since` for which `check` holds (on workers, the
    process serving /sync may learn of another process's write a moment
    after the writer answered); the last one when it never does."""
    deadline = time.monotonic() + 10
    while True:
        body = sync(client, since, filter_json)
        if check(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


_txn = iter(range(1_000_000))


def send(client: Client, room: str, content: dict[str, Any], event_type: str = "m.room.message") -> str:
    status, body = client.put(f"/rooms/{q(room)}/send/{event_type}/t{next(_txn)}", content)
    assert status == 200, body
    return body["event_id"]


def text(body: str, **extra: Any) -> dict[str, Any]:
    return {"msgtype": "m.text", "body": body, **extra}


def unread(body: dict[str, Any], room: str) -> Optional[dict[str, Any]]:
    joined = body["rooms"]["join"].get(room)
    return None if joined is None else joined["unread_notifications"]


def push_rules_in(body: dict[str, Any]) -> Optional[dict[str, Any]]:
    for event in body["account_data"]["events"]:
        if event["type"] == "m.push_rules":
            return event["content"]
    return None


# -- the rules API ----------------------------------------------------------------
def test_default_ruleset_is_the_spec_s(homeserver: Deployment) -> None:
    alice = new_user(homeserver)
    status, body = alice.get("/pushrules/")
    assert status == 200, body
    ruleset = body["global"]
    assert [r["rule_id"] for r in ruleset["override"]] == [r["rule_id"] for r in DEFAULT_OVERRIDE]
    assert [r["rule_id"] for r in ruleset["underride"]] == [r["rule_id"] for r in DEFAULT_UNDERRIDE]
    assert ruleset["content"] == ruleset["room"] == ruleset["sender"] == []
    mention = next(r for r in ruleset["override"] if r["rule_id"] == ".m.rule.is_user_mention")
    assert mention["conditions"][0]["value"] == alice.user_id
    assert alice.get("/pushrules/global/") == (200, ruleset)
    assert alice.get("/pushrules/global/override/.m.rule.master") == (
        200,
        {"rule_id": ".m.rule.master", "default": True, "enabled": False, "actions": [], "conditions": []},
    )


def test_rule_crud_ordering_and_errors(homeserver: Deployment) -> None:
    alice = new_user(homeserver)
    base = "/pushrules/global"
    assert alice.put(f"{base}/content/cake", {"pattern": "cake", "actions": ["notify"]}) == (200, {})
    assert alice.put(
        f"{base}/content/pie",
        {"pattern": "pie", "actions": ["notify"]},
    ) == (200, {})
    # new rules go first; before/after place them relative to user rules
    assert alice.put(f"{base}/content/tart?after=cake", {"pattern": "tart", "actions": []}) == (200, {})
    assert alice.put(f"{base}/content/scone?before=pie", {"pattern": "scone", "actions": ["dont_notify"]}) == (
        200,
        {},
    )
    content = alice.get("/pushrules/")[1]["global"]["content"]
    assert [r["rule_id"] for r in content] == ["scone", "pie", "cake", "tart"]
    assert content[0] == {"rule_id": "scone", "default": False, "enabled": True, "actions": [], "pattern": "scone"}

    assert alice.get(f"{base}/content/cake/enabled") == (200, {"enabled": True})
    assert alice.put(f"{base}/content/cake/enabled", {"enabled": False}) == (200, {})
    assert alice.get(f"{base}/content/cake/enabled") == (200, {"enabled": False})
    assert alice.put(f"{base}/content/cake/actions", {"actions": ["notify", {"set_tweak": "highlight"}]}) == (200, {})
    assert alice.get(f"{base}/content/cake/actions") == (200, {"actions": ["notify", {"set_tweak": "highlight"}]})
    # an update keeps the rule's place and enabled state
    assert alice.put(f"{base}/content/cake", {"pattern": "cakes", "actions": ["notify"]}) == (200, {})
    assert alice.get(f"{base}/content/cake")[1] == {
        "rule_id": "cake", "default": False, "enabled": False, "actions": ["notify"], "pattern": "cakes"
    }  # fmt: skip
    assert [r["rule_id"] for r in alice.get("/pushrules/")[1]["global"]["content"]] == ["scone", "pie", "cake", "tart"]

    # server-default rules: enabled/actions may change, deleting or adding is refused
    assert alice.put(f"{base}/override/.m.rule.master/enabled", {"enabled": True}) == (200, {})
    assert alice.get(f"{base}/override/.m.rule.master/enabled") == (200, {"enabled": True})
    assert alice.put(f"{base}/underride/.m.rule.message/actions", {"actions": []}) == (200, {})
    assert alice.get(f"{base}/underride/.m.rule.message")[1]["actions"] == []
    for status_body, status_errcode in [
        (alice.delete(f"{base}/override/.m.rule.master"), (400, "M_INVALID_PARAM")),
        (alice.put(f"{base}/override/.m.rule.mine", {"actions": []}), (400, "M_INVALID_PARAM")),
        (alice.put(f"{base}/content/x?before=nope", {"pattern": "x", "actions": []}), (400, "M_INVALID_PARAM")),
        (
            alice.put(f"{base}/content/x?before=.m.rule.master", {"pattern": "x", "actions": []}),
            (400, "M_INVALID_PARAM"),
        ),
        (alice.put(f"{base}/content/x", {"actions": []}), (400, "M_MISSING_PARAM")),
        (alice.put(f"{base}/content/x", {"pattern": "x", "actions": ["explode"]}), (400, "M_INVALID_PARAM")),
        (alice.put(f"{base}/content/x", {"pattern": "x", "actions": "notify"}), (400, "M_INVALID_PARAM")),
        (alice.put(f"{base}/bogus/x", {"actions": []}), (400, "M_INVALID_PARAM")),
        (alice.get(f"{base}/content/nope"), (404, "M_NOT_FOUND")),
        (alice.delete(f"{base}/content/nope"), (404, "M_NOT_FOUND")),
        (alice.get(f"{base}/content/nope/enabled"), (404, "M_NOT_FOUND")),
        (alice.put(f"{base}/content/nope/enabled", {"enabled": True}), (404, "M_NOT_FOUND")),
        (alice.put(f"{base}/content/nope/actions", {"actions": []}), (404, "M_NOT_FOUND")),
        (alice.put(f"{base}/content/cake/enabled", {"enabled": "yes"}), (400, "M_INVALID_PARAM")),
    ]:
        status, body = status_body
        assert (status, body.get("errcode")) == status_errcode, body
    assert alice.delete(f"{base}/content/cake") == (200, {})
    assert [r["rule_id"] for r in alice.get("/pushrules/")[1]["global"]["content"]] == ["scone", "pie", "tart"]
    status, body = Client(homeserver.base_url).get("/pushrules/")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


def test_push_rules_in_sync(homeserver: Deployment) -> None:
    alice = new_user(homeserver)
    initial = sync(alice)
    assert push_rules_in(initial)["global"]["override"][0]["rule_id"] == ".m.rule.master"
    assert push_rules_in(sync(alice, initial["next_batch"])) is None
    rule = {"conditions": [{"kind": "event_match", "key": "content.body", "pattern": "beer"}], "actions": ["notify"]}
    assert alice.put("/pushrules/global/override/beer", rule) == (200, {})
    changed = sync_until(alice, initial["next_batch"], lambda b: push_rules_in(b) is not None)
    override = push_rules_in(changed)["global"]["override"]
    assert [r["rule_id"] for r in override[:2]] == [".m.rule.master", "beer"]
    assert push_rules_in(sync(alice, changed["next_batch"])) is None
    status, full = alice.get(f"/sync?since={q(changed['next_batch'])}&full_state=true&timeout=0")
    assert status == 200 and push_rules_in(full)["global"]["override"][1]["rule_id"] == "beer"


# -- evaluation, unread counts and /notifications ----------------------------------
def test_counts_rise_with_messages_and_mentions_and_drop_after_a_receipt(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    first = sync_until(bob, None, lambda b: unread(b, room) is not None)
    assert unread(first, room) == {"notification_count": 0, "highlight_count": 0}

    send(alice, room, text("hello"))
    send(alice, room, text("bob?", **{"m.mentions": {"user_ids": [bob.user_id]}}))
    send(alice, room, text("quiet", msgtype="m.notice"))
    last = send(alice, room, text("edit", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}))
    two_one = {"notification_count": 2, "highlight_count": 1}
    after_messages = sync_until(bob, first["next_batch"], lambda b: unread(b, room) == two_one)
    assert unread(after_messages, room) == two_one
    # the sender's own messages never count for her
    assert unread(sync(alice), room) == {"notification_count": 0, "highlight_count": 0}

    assert bob.post(f"/rooms/{q(room)}/receipt/m.read/{q(last)}", {})[0] == 200
    after_receipt = sync_until(bob, after_messages["next_batch"], lambda b: unread(b, room) is not None)
    assert unread(after_receipt, room) == {"notification_count": 0, "highlight_count": 0}

    # a private receipt clears too; one on an older event leaves newer ones unread
    older = send(alice, room, text("one"))
    send(alice, room, text("two"))
    assert bob.post(f"/rooms/{q(room)}/receipt/m.read.private/{q(older)}", {})[0] == 200
    one = {"notification_count": 1, "highlight_count": 0}
    assert unread(sync_until(bob, after_receipt["next_batch"], lambda b: unread(b, room) == one), room) == one
    # sending an event reads what came before it
    send(bob, room, text("caught up"))
    zero = {"notification_count": 0, "highlight_count": 0}
    assert unread(sync_until(bob, after_receipt["next_batch"], lambda b: unread(b, room) == zero), room) == zero


def test_custom_rules_change_what_counts(homeserver: Deployment) -> None:
    alice, bob, carol = new_user(homeserver), new_user(homeserver), new_user(homeserver)
    base = "/pushrules/global"
    # carol highlights "pancakes", and later silences alice and one room
    highlight = {"pattern": "pan*s", "actions": ["notify", {"set_tweak": "highlight"}]}
    assert carol.put(f"{base}/content/pancakes", highlight) == (200, {})
    room = shared_room(alice, bob, carol)
    quiet_room = shared_room(bob, carol)
    first = sync_until(carol, None, lambda b: unread(b, room) is not None and unread(b, quiet_room) is not None)
    # evaluated with carol's rules as they are (now cached where the events were created)
    send(alice, room, text("before the rules"))
    send(bob, quiet_room, text("before the rules"))
    assert carol.put(f"{base}/sender/{q(alice.user_id)}", {"actions": []}) == (200, {})
    assert carol.put(f"{base}/room/{q(quiet_room)}", {"actions": []}) == (200, {})
    time.sleep(0.5)  # other processes drop the cached rules when the bus brings the change

    def counts() -> tuple[Any, Any]:
        body = sync(carol, first["next_batch"])
        return unread(body, room), unread(body, quiet_room)

    send(alice, room, text("from alice"))
    send(bob, room, text("I like PANCAKES."))
    send(bob, room, text("group message"))  # 3 members: .m.rule.message, notify only
    send(bob, quiet_room, text("ignored"))
    expected = ({"notification_count": 3, "highlight_count": 1}, {"notification_count": 1, "highlight_count": 0})
    eventually(lambda: counts() == expected)
    assert counts() == expected


def test_threaded_counts_and_threaded_receipts(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    by_thread = {"room": {"timeline": {"unread_thread_notifications": True}}}
    first = sync_until(bob, None, lambda b: room in b["rooms"]["join"], by_thread)
    root = send(alice, room, text("root"))
    reply = send(alice, room, text("in thread", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}))
    send(alice, room, {"m.relates_to": {"rel_type": "m.annotation", "event_id": reply, "key": "x"}}, "m.reaction")
    send(alice, room, text("reply 2", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}))

    def thread_counts(b: dict[str, Any]) -> Any:
        joined = b["rooms"]["join"].get(room, {})
        return joined.get("unread_notifications"), joined.get("unread_thread_notifications")

    def counts(n: int, h: int) -> dict[str, int]:
        return {"notification_count": n, "highlight_count": h}

    expected = (counts(1, 0), {root: counts(2, 0)})
    body = sync_until(bob, first["next_batch"], lambda b: thread_counts(b) == expected, by_thread)
    assert thread_counts(body) == expected
    # without the filter flag, one count for everything
    assert unread(sync(bob), room) == counts(3, 0)

    # a threaded receipt covers only its thread
    assert bob.post(f"/rooms/{q(room)}/receipt/m.read/{q(reply)}", {"thread_id": root})[0] == 200
    expected = (counts(1, 0), {root: counts(1, 0)})
    body = sync_until(bob, body["next_batch"], lambda b: thread_counts(b) == expected, by_thread)
    assert thread_counts(body) == expected
    assert bob.post(f"/rooms/{q(room)}/receipt/m.read/{q(root)}", {"thread_id": "main"})[0] == 200
    expected = (counts(0, 0), {root: counts(1, 0)})
    body = sync_until(bob, body["next_batch"], lambda b: thread_counts(b) == expected, by_thread)
    assert thread_counts(body) == expected
    # a reply of bob's reads his thread up to it, and only that thread
    send(alice, room, text("main again"))
    send(bob, room, text("mine", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}))
    expected = (counts(1, 0), {})
    body = sync_until(bob, body["next_batch"], lambda b: thread_counts(b) == expected, by_thread)
    assert thread_counts(body) == expected
    # an unthreaded receipt on the latest event covers every thread
    latest = send(alice, room, text("reply 3", **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}}))
    assert bob.post(f"/rooms/{q(room)}/receipt/m.read/{q(latest)}", {})[0] == 200
    expected = (counts(0, 0), {})
    body = sync_until(bob, body["next_batch"], lambda b: thread_counts(b) == expected, by_thread)
    assert thread_counts(body) == expected


def test_notifications_endpoint(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    room = shared_room(alice, bob)
    first = send(alice, room, text("one"))
    mention = send(alice, room, text("two", **{"m.mentions": {"user_ids": [bob.user_id]}}))
    third = send(alice, room, text("three"))
    assert bob.post(f"/rooms/{q(room)}/receipt/m.read/{q(first)}", {})[0] == 200

    status, body = bob.get("/notifications")
    assert status == 200, body
    notes = body["notifications"]
    assert [n["event"]["event_id"] for n in notes] == [third, mention, first]
    assert [n["read"] for n in notes] == [False, False, True]
    assert notes[0]["room_id"] == room and "room_id" not in notes[0]["event"]
    assert notes[0]["actions"] == ["notify", {"set_tweak": "sound", "value": "default"}]
    assert notes[0]["event"]["content"]["body"] == "three" and isinstance(notes[0]["ts"], int)
    assert "next_token" not in body

    status, page = bob.get("/notifications?limit=2")
    assert [n["event"]["event_id"] for n in page["notifications"]] == [third, mention]
    status, rest = bob.get(f"/notifications?limit=2&from={q(page['next_token'])}")
    assert [n["event"]["event_id"] for n in rest["notifications"]] == [first]
    status, highlights = bob.get("/notifications?only=highlight")
    assert [n["event"]["event_id"] for n in highlights["notifications"]] == [mention]
    assert alice.get("/notifications") == (200, {"notifications": []})
    status, body = bob.get("/notifications?from=nope")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

    # a redaction takes its target's notifications away
    status, body = alice.put(f"/rooms/{q(room)}/redact/{q(mention)}/r{next(_txn)}", {})
    assert status == 200, body
    status, body = bob.get("/notifications")
    assert [n["event"]["event_id"] for n in body["notifications"]] == [third, first]
    assert unread(sync(bob), room) == {"notification_count": 1, "highlight_count": 0}
