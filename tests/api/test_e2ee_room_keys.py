"""Room key backups over real HTTP on both databases: versions, keys in the
three path variants, replacement rules, etags and counts, and errcodes."""

import urllib.parse
from typing import Any, Iterator

import pytest

from tests.accounts.client import Client, new_user
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture

ALG = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:localhost"
R = urllib.parse.quote(ROOM, safe="")


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


def key(index: int = 0, forwarded: int = 0, verified: bool = False, data: str = "c") -> dict[str, Any]:
    return {
        "first_message_index": index,
        "forwarded_count": forwarded,
        "is_verified": verified,
        "session_data": {"ephemeral": "e", "ciphertext": data, "mac": "m"},
    }


def create(client: Client, public_key: str = "pk") -> str:
    status, body = client.post("/room_keys/version", {"algorithm": ALG, "auth_data": {"public_key": public_key}})
    assert status == 200, body
    return body["version"]


def test_versions(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver, "va"), new_user(homeserver, "vb")
    status, body = alice.get("/room_keys/version")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    v1 = create(alice, "one")
    v2 = create(alice, "two")
    status, body = alice.get("/room_keys/version")
    assert (status, body) == (
        200,
        {"version": v2, "algorithm": ALG, "auth_data": {"public_key": "two"}, "etag": "0", "count": 0},
    )
    assert alice.get(f"/room_keys/version/{v1}")[1]["auth_data"] == {"public_key": "one"}
    # another user's backups are not visible
    assert bob.get(f"/room_keys/version/{v1}")[0] == 404
    assert alice.get("/room_keys/version/notanumber")[1]["errcode"] == "M_NOT_FOUND"

    update = {"algorithm": ALG, "auth_data": {"public_key": "two", "signatures": {}}}
    assert alice.put(f"/room_keys/version/{v2}", update) == (200, {})
    assert alice.get(f"/room_keys/version/{v2}")[1]["auth_data"] == update["auth_data"]
    status, body = alice.put(f"/room_keys/version/{v2}", {**update, "version": v1})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.put(f"/room_keys/version/{v2}", {**update, "algorithm": "m.other"})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.put("/room_keys/version/999", update)
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = alice.post("/room_keys/version", {"algorithm": ALG})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = alice.post("/room_keys/version", {"algorithm": ALG, "auth_data": "x"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.post("/room_keys/version", {"algorithm": "m.unknown", "auth_data": {}})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")

    # deleting: the previous version becomes current; deleting again is fine
    assert alice.delete(f"/room_keys/version/{v2}") == (200, {})
    assert alice.delete(f"/room_keys/version/{v2}") == (200, {})
    assert alice.get(f"/room_keys/version/{v2}")[0] == 404
    assert alice.get("/room_keys/version")[1]["version"] == v1
    status, body = alice.delete("/room_keys/version/999")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    assert int(create(alice)) > int(v2)  # numbers are not reused


def test_keys_variants_and_replacement(homeserver: Deployment) -> None:
    alice = new_user(homeserver, "ka")
    status, body = alice.put(f"/room_keys/keys/{R}/s1?version=1", key())
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")  # no backup yet
    old = create(alice)
    version = create(alice)

    status, body = alice.put(f"/room_keys/keys/{R}/s1?version={old}", key())
    assert (status, body["errcode"], body["current_version"]) == (403, "M_WRONG_ROOM_KEYS_VERSION", version)
    status, body = alice.put(f"/room_keys/keys?version={old}", {"rooms": {}})
    assert (status, body["errcode"]) == (403, "M_WRONG_ROOM_KEYS_VERSION")

    assert alice.put(f"/room_keys/keys/{R}/s1?version={version}", key(5)) == (200, {"etag": "1", "count": 1})
    body = {"sessions": {"s2": key(), "s3": key(1)}}
    assert alice.put(f"/room_keys/keys/{R}?version={version}", body) == (200, {"etag": "2", "count": 3})
    other = "!other:localhost"
    assert (
        alice.put(f"/room_keys/keys?version={version}", {"rooms": {other: {"sessions": {"s9": key()}}}})[1]["count"]
        == 4
    )

    # replacement: verified beats unverified, then lower index, then fewer forwards
    assert alice.put(f"/room_keys/keys/{R}/s1?version={version}", key(9, data="worse")) == (
        200,
        {"etag": "3", "count": 4},
    )
    assert alice.get(f"/room_keys/keys/{R}/s1?version={version}")[1] == key(5)
    alice.put(f"/room_keys/keys/{R}/s1?version={version}", key(9, verified=True, data="verified"))
    assert alice.get(f"/room_keys/keys/{R}/s1?version={version}")[1] == key(9, verified=True, data="verified")
    alice.put(f"/room_keys/keys/{R}/s1?version={version}", key(2, data="unverified"))
    alice.put(f"/room_keys/keys/{R}/s1?version={version}", key(9, forwarded=0, verified=True, data="same"))
    assert alice.get(f"/room_keys/keys/{R}/s1?version={version}")[1]["session_data"]["ciphertext"] == "verified"
    alice.put(f"/room_keys/keys/{R}/s2?version={version}", key(0, forwarded=0, data="fewer"))
    assert alice.get(f"/room_keys/keys/{R}/s2?version={version}")[1]["session_data"]["ciphertext"] == "c"

    status, everything = alice.get(f"/room_keys/keys?version={version}")
    assert status == 200 and set(everything["rooms"]) == {ROOM, other}
    assert set(everything["rooms"][ROOM]["sessions"]) == {"s1", "s2", "s3"}
    assert alice.get(f"/room_keys/keys/{R}?version={version}")[1]["sessions"] == everything["rooms"][ROOM]["sessions"]
    assert alice.get(f"/room_keys/keys/%21empty%3Alocalhost?version={version}") == (200, {"sessions": {}})
    status, body = alice.get(f"/room_keys/keys/{R}/nope?version={version}")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    info = alice.get("/room_keys/version")[1]
    assert (info["count"], info["etag"]) == (4, "4")  # only the one real replacement bumped it
    # an old version can still be read
    assert alice.get(f"/room_keys/keys?version={old}") == (200, {"rooms": {}})

    # deleting in each variant
    assert alice.delete(f"/room_keys/keys/{R}/s1?version={version}")[1]["count"] == 3
    assert alice.delete(f"/room_keys/keys/{R}?version={version}")[1]["count"] == 1
    status, body = alice.delete(f"/room_keys/keys?version={version}")
    assert status == 200 and body["count"] == 0
    assert alice.get(f"/room_keys/keys?version={version}") == (200, {"rooms": {}})


def test_key_errors(homeserver: Deployment) -> None:
    alice = new_user(homeserver, "ea")
    version = create(alice)
    status, body = alice.put(f"/room_keys/keys/{R}/s1", key())
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = alice.get("/room_keys/keys")
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = alice.put(f"/room_keys/keys/{R}/s1?version={version}", {"first_message_index": 0})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = alice.put(f"/room_keys/keys/{R}/s1?version={version}", {**key(), "is_verified": "yes"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.put(f"/room_keys/keys?version={version}", {"rooms": []})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.put(f"/room_keys/keys/{R}?version={version}", {"sessions": "x"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.get("/room_keys/keys?version=12345")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = alice.delete("/room_keys/keys?version=12345")
    assert (status, body["errcode"]) == (404, "M_NOT_FOUND")
    status, body = Client(homeserver.base_url).get("/room_keys/version")
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")
