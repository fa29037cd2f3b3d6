"""The device_lists stream over real HTTP on every deployment: /sync's
`device_lists` and GET /keys/changes report co-members whose devices or
keys changed and users who newly share a room (`changed`) or no longer
share one (`left`); a change ends the long-polls of those who share a room
with the changed user; deleting a device (DELETE /devices, POST
/delete_devices, logout) drops its keys and its to-device inbox.

On the worker deployment the stream's writer is a separate process, key
uploads run on main, logins and /sync on generic workers: every change
crosses processes, so the tests long-poll rather than expect a change to
be visible on another process at once.
"""

import threading
import time
import urllib.parse
from typing import Any, Callable, Iterator

import pytest

from tests.accounts.client import Client, shared_room, unique
from tests.api.test_e2ee_keys import Ed25519, device_keys, new_user
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture

Lists = dict[str, set[str]]


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


def quoted(room_id: str) -> str:
    return urllib.parse.quote(room_id, safe="")


def sync(client: Client, since: str = "", timeout_ms: int = 0) -> dict[str, Any]:
    query = f"?timeout={timeout_ms}" + (f"&since={since}" if since else "")
    status, body = client.get("/sync" + query)
    assert status == 200, body
    return body


def upload_keys(client: Client) -> dict[str, Any]:
    body = {"device_keys": device_keys(client, Ed25519(client.device_id or ""))}
    assert client.post("/keys/upload", body)[0] == 200
    return body


def lists_until(client: Client, since: str, done: Callable[[Lists], bool]) -> tuple[Lists, str]:
    """Long-polls from `since`, gathering device_lists, until `done(lists)`;
    returns them with the last next_batch."""
    gathered: Lists = {"changed": set(), "left": set()}
    token = since
    for _ in range(20):
        body = sync(client, token, timeout_ms=1000)
        token = body["next_batch"]
        for key in gathered:
            gathered[key].update(body["device_lists"][key])
        if done(gathered):
            return gathered, token
    raise AssertionError(f"device lists never got there: {gathered}")


def test_changed_lists_co_members_only_in_sync_and_key_changes(homeserver: Deployment) -> None:
    alice, bob, carol = (new_user(homeserver, p) for p in ("dla", "dlb", "dlc"))
    shared_room(alice, bob)
    since = sync(alice)["next_batch"]
    upload_keys(carol)  # shares no room with alice
    bob_keys = upload_keys(bob)
    lists, now = lists_until(alice, since, lambda lists: bob.user_id in lists["changed"])
    assert lists == {"changed": {bob.user_id}, "left": set()}

    status, body = alice.get(f"/keys/changes?from={since}&to={now}")
    assert (status, body) == (200, {"changed": [bob.user_id], "left": []})
    # the window after the change is empty, and re-uploading the same keys changes nothing
    assert alice.get(f"/keys/changes?from={now}&to={now}")[1] == {"changed": [], "left": []}
    assert bob.post("/keys/upload", bob_keys)[0] == 200
    assert sync(alice, now, timeout_ms=500)["device_lists"] == {"changed": [], "left": []}
    # alice's own keys are news to her other devices
    upload_keys(alice)
    lists, _ = lists_until(alice, now, lambda lists: alice.user_id in lists["changed"])
    assert lists["changed"] == {alice.user_id}


def test_renaming_and_adding_devices_are_changes(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver, "dlra"), new_user(homeserver, "dlrb")
    shared_room(alice, bob)
    since = sync(alice)["next_batch"]
    assert bob.put(f"/devices/{bob.device_id}", {"display_name": "renamed"})[0] == 200
    _, since = lists_until(alice, since, lambda lists: bob.user_id in lists["changed"])
    Client(homeserver.base_url).login(bob.user_id or "")  # a new device (on a generic worker with workers)
    lists, _ = lists_until(alice, since, lambda lists: bob.user_id in lists["changed"])
    assert lists["left"] == set()


def test_joining_and_leaving_rooms_changes_and_leaves(homeserver: Deployment) -> None:
    alice, bob, dave = (new_user(homeserver, p) for p in ("dlja", "dljb", "dljd"))
    room_id = shared_room(alice, bob)
    other_room = shared_room(alice)
    alice_since, bob_since = sync(alice)["next_batch"], sync(bob)["next_batch"]

    # dave joins: he newly shares a room with alice (and with bob)
    assert dave.post(f"/rooms/{quoted(room_id)}/join")[0] == 200
    lists, alice_since = lists_until(alice, alice_since, lambda lists: dave.user_id in lists["changed"])
    assert lists["left"] == set()
    # dave also joins another room of alice's, then leaves the first: he still shares one
    assert dave.post(f"/rooms/{quoted(other_room)}/join")[0] == 200
    assert dave.post(f"/rooms/{quoted(room_id)}/leave")[0] == 200
    # bob leaves: alice and he share nothing any more, on both sides
    assert bob.post(f"/rooms/{quoted(room_id)}/leave")[0] == 200
    lists, alice_since = lists_until(alice, alice_since, lambda lists: bob.user_id in lists["left"])
    assert dave.user_id not in lists["left"]
    assert bob.user_id not in lists["changed"]
    lists, _ = lists_until(bob, bob_since, lambda lists: alice.user_id in lists["left"])
    assert dave.user_id in lists["left"] and bob.user_id not in lists["left"]

    # keys/changes agrees with sync over the same tokens
    later = sync(alice, alice_since)["next_batch"]
    assert dave.post(f"/rooms/{quoted(other_room)}/leave")[0] == 200
    lists, now = lists_until(alice, later, lambda lists: dave.user_id in lists["left"])
    assert alice.get(f"/keys/changes?from={later}&to={now}")[1] == {"changed": [], "left": [dave.user_id]}


def test_key_upload_ends_a_co_members_long_poll(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver, "dlwa"), new_user(homeserver, "dlwb")
    shared_room(alice, bob)
    since = sync(alice)["next_batch"]
    woken: dict[str, float] = {}

    def long_poll() -> None:
        """Long-polls (20 s each) until bob's change arrives; earlier
        answers (the room still replicating) just move the token on."""
        token = since
        while "at" not in woken:
            body = sync(alice, token, timeout_ms=20000)
            token = body["next_batch"]
            if bob.user_id in body["device_lists"]["changed"]:
                woken["at"] = time.monotonic()

    waiter = threading.Thread(target=long_poll, daemon=True)
    waiter.start()
    time.sleep(1)
    uploaded = time.monotonic()
    upload_keys(bob)
    waiter.join(30)
    assert "at" in woken
    assert woken["at"] - uploaded < 5


def delete_with_uia(client: Client, method: str, path: str, body: dict[str, Any]) -> None:
    status, challenge = client.request(method, path, body)
    assert status == 401, challenge
    status, resp = client.request(method, path, {**body, "auth": client.password_auth(challenge["session"])})
    assert status == 200, resp


@pytest.mark.parametrize("how", ["DELETE /devices", "POST /delete_devices", "logout"])
def test_deleting_a_device_drops_its_keys_and_inbox(homeserver: Deployment, how: str) -> None:
    alice, bob = new_user(homeserver, "dlxa"), new_user(homeserver, "dlxb")
    shared_room(alice, bob)
    phone = Client(homeserver.base_url)
    phone.login(bob.user_id or "")
    upload = {
        "device_keys": device_keys(phone, Ed25519(phone.device_id or "")),
        "one_time_keys": {"signed_curve25519:K1": {"key": "k1"}},
        "fallback_keys": {"signed_curve25519:F1": {"key": "f1", "fallback": True}},
    }
    assert phone.post("/keys/upload", upload)[0] == 200
    message = {"messages": {bob.user_id: {phone.device_id: {"secret": "for the phone"}}}}
    assert alice.put(f"/sendToDevice/m.test/{unique('txn')}", message)[0] == 200
    since = sync(alice)["next_batch"]

    if how == "DELETE /devices":
        delete_with_uia(bob, "DELETE", f"/devices/{phone.device_id}", {})
    elif how == "POST /delete_devices":
        delete_with_uia(bob, "POST", "/delete_devices", {"devices": [phone.device_id]})
    else:
        assert phone.post("/logout")[0] == 200

    lists, _ = lists_until(alice, since, lambda lists: bob.user_id in lists["changed"])
    assert lists["left"] == set()
    query = alice.post("/keys/query", {"device_keys": {bob.user_id: []}})[1]
    assert phone.device_id not in query["device_keys"][bob.user_id]
    claim = {"one_time_keys": {bob.user_id: {phone.device_id: "signed_curve25519"}}}
    assert alice.post("/keys/claim", claim)[1]["one_time_keys"] == {}

    # a new device reusing the id starts with no keys and an empty inbox
    again = Client(homeserver.base_url)
    again.login(bob.user_id or "", device_id=phone.device_id)
    body = sync(again)
    assert body["to_device"]["events"] == []
    assert body["device_one_time_keys_count"].get("signed_curve25519", 0) == 0
    assert body.get("device_unused_fallback_key_types", []) == []
