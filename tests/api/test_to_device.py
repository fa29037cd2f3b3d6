"""Send-to-device messages over real HTTP on both databases and on workers: delivery to
one device and to '*', transaction ids, acknowledgement by the next sync,
the per-sync limit and its continuation, errcodes, and a woken long-poll."""

import threading
import time
from typing import Any, Iterator, Union

import pytest

from synapse.streams.to_device import SYNC_MESSAGE_LIMIT
from tests.accounts.client import Client, new_user, q, start_accounts_homeserver, unique
from tests.support.homeserver import Homeserver
from tests.support.topology import Topology, start_topology


@pytest.fixture(scope="module", params=["sqlite", "postgres", "workers"])
def homeserver(request: pytest.FixtureRequest) -> Iterator[Union[Homeserver, Topology]]:
    """A monolith on each database, and the default worker deployment behind
    nginx (sendToDevice on the to_device writer, /sync on generic workers)."""
    hs = start_topology() if request.param == "workers" else start_accounts_homeserver(request.param)
    yield hs
    hs.stop()


def second_device(homeserver: Union[Homeserver, Topology], first: Client) -> Client:
    client = Client(homeserver.base_url)
    client.login(first.user_id)  # type: ignore[arg-type]
    assert client.device_id != first.device_id
    return client


def send(sender: Client, txn_id: str, messages: dict[str, Any], kind: str = "m.room_key_request") -> None:
    assert sender.put(f"/sendToDevice/{q(kind)}/{q(txn_id)}", {"messages": messages}) == (200, {})


def sync(client: Client, since: str | None = None, timeout: int = 0) -> dict[str, Any]:
    path = "/sync" if since is None else f"/sync?since={q(since)}&timeout={timeout}"
    status, body = client.get(path)
    assert status == 200, body
    return body


def to_device(body: dict[str, Any]) -> list[dict[str, Any]]:
    return body["to_device"]["events"]


def contents(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["content"] for e in to_device(body)]


def sync_until(client: Client, since: str | None, marker: dict[str, Any]) -> dict[str, Any]:
    """Syncs (again with the same since) until a message with content
    `marker` arrives: on workers, the process serving /sync learns of a send
    a moment after the writer answered it."""
    deadline = time.monotonic() + 15
    while True:
        body = sync(client, since, timeout=2000)
        if marker in contents(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_delivery_to_one_device_and_to_every_device(homeserver: Union[Homeserver, Topology]) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    bob2 = second_device(homeserver, bob)
    since1, since2 = sync(bob)["next_batch"], sync(bob2)["next_batch"]

    send(alice, unique("txn"), {bob.user_id: {bob.device_id: {"to": "one"}}}, kind="org.example.ping")
    one = sync_until(bob, since1, {"to": "one"})
    assert to_device(one) == [{"sender": alice.user_id, "type": "org.example.ping", "content": {"to": "one"}}]

    send(alice, unique("txn"), {bob.user_id: {"*": {"to": "all"}}})
    all_devices = sync_until(bob, one["next_batch"], {"to": "all"})
    assert contents(all_devices) == [{"to": "all"}]
    # the other device never got the first message
    assert contents(sync_until(bob2, since2, {"to": "all"})) == [{"to": "all"}]
    # unknown users and devices are ignored, and so is a remote user (no federation yet)
    ignored = {bob.user_id: {"NODEVICE": {}}, "@nobody:localhost": {"*": {}}, "@x:remote.example": {"*": {}}}
    send(alice, unique("txn"), ignored)
    send(alice, unique("txn"), {bob.user_id: {bob.device_id: {"to": "marker"}}})
    assert contents(sync_until(bob, all_devices["next_batch"], {"to": "marker"})) == [{"to": "marker"}]


def test_retried_transaction_delivers_once(homeserver: Union[Homeserver, Topology]) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    since = sync(bob)["next_batch"]
    txn = unique("txn")
    send(alice, txn, {bob.user_id: {bob.device_id: {"n": 1}}})
    send(alice, txn, {bob.user_id: {bob.device_id: {"n": 1}}})
    send(alice, unique("txn"), {bob.user_id: {bob.device_id: {"n": "marker"}}})
    assert contents(sync_until(bob, since, {"n": "marker"})) == [{"n": 1}, {"n": "marker"}]
    # the same txn id from another device of the sender is a new request
    alice2 = second_device(homeserver, alice)
    send(alice2, txn, {bob.user_id: {bob.device_id: {"n": 2}}})
    assert contents(sync_until(bob, since, {"n": 2})) == [{"n": 1}, {"n": "marker"}, {"n": 2}]


def test_messages_stay_until_acknowledged_by_the_next_sync(homeserver: Union[Homeserver, Topology]) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    since = sync(bob)["next_batch"]
    send(alice, unique("txn"), {bob.user_id: {bob.device_id: {"n": 1}}})
    first = sync_until(bob, since, {"n": 1})
    assert contents(first) == [{"n": 1}]
    # the response was lost: the same since gets the same messages
    assert to_device(sync(bob, since)) == to_device(first)
    # syncing with the next token acknowledges them: never delivered again
    assert to_device(sync(bob, first["next_batch"])) == []
    assert to_device(sync(bob, since)) == []
    # an initial sync of the device has only unacknowledged messages
    send(alice, unique("txn"), {bob.user_id: {bob.device_id: {"n": 2}}})
    assert contents(sync_until(bob, None, {"n": 2})) == [{"n": 2}]


def test_per_sync_limit_and_continuation(homeserver: Union[Homeserver, Topology]) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    since = sync(bob)["next_batch"]
    total = SYNC_MESSAGE_LIMIT + 7
    for i in range(total):
        send(alice, f"limit{i}", {bob.user_id: {bob.device_id: {"i": i}}})
    first = sync_until(bob, since, {"i": SYNC_MESSAGE_LIMIT - 1})
    assert [e["content"]["i"] for e in to_device(first)] == list(range(SYNC_MESSAGE_LIMIT))
    # the token stops at the last delivered message, so the rest follow
    rest = sync_until(bob, first["next_batch"], {"i": total - 1})
    assert [e["content"]["i"] for e in to_device(rest)] == list(range(SYNC_MESSAGE_LIMIT, total))
    assert to_device(sync(bob, rest["next_batch"])) == []


def test_errors(homeserver: Union[Homeserver, Topology]) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    path = "/sendToDevice/m.x/" + unique("txn")
    for body in (
        {"messages": []},
        {"messages": {bob.user_id: "nope"}},
        {"messages": {bob.user_id: {"*": "not an object"}}},
        {"messages": {"not-a-user": {"*": {}}}},
    ):
        status, answer = alice.put(path, body)
        assert (status, answer["errcode"]) == (400, "M_BAD_JSON"), body
    status, answer = alice.put(path, {})
    assert (status, answer["errcode"]) == (400, "M_MISSING_PARAM")
    status, answer = alice.request("PUT", path, b"{nope")
    assert (status, answer["errcode"]) == (400, "M_NOT_JSON")
    status, answer = Client(homeserver.base_url).put(path, {"messages": {}})
    assert (status, answer["errcode"]) == (401, "M_MISSING_TOKEN")
    status, answer = Client(homeserver.base_url, token="bogus").put(path, {"messages": {}})
    assert (status, answer["errcode"]) == (401, "M_UNKNOWN_TOKEN")


def test_long_poll_wakes_on_a_to_device_message(homeserver: Union[Homeserver, Topology]) -> None:
    alice, bob = new_user(homeserver), new_user(homeserver)
    since = sync(bob)["next_batch"]
    answer: dict[str, Any] = {}

    def long_poll() -> None:
        started = time.monotonic()
        answer["body"] = sync(bob, since, timeout=20000)
        answer["took"] = time.monotonic() - started

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.5)
    send(alice, unique("txn"), {bob.user_id: {bob.device_id: {"wake": True}}})
    poller.join(timeout=30)
    assert answer["took"] < 10
    assert [e["content"] for e in to_device(answer["body"])] == [{"wake": True}]
