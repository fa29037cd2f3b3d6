"""End-to-end encryption keys over real HTTP on both databases: upload,
query, claim, changes, cross-signing keys and signatures, and their errcodes."""

import time
import urllib.parse
from typing import Any, Iterator

import pytest
from signedjson.key import generate_signing_key
from signedjson.sign import sign_json
from unpaddedbase64 import encode_base64

from tests.accounts.client import Client, new_user
from tests.e2ee.deployments import DEPLOYMENTS, Deployment, deployment_fixture


@pytest.fixture(scope="module", params=DEPLOYMENTS)
def homeserver(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    yield from deployment_fixture(request)


class Ed25519:
    """A signing key named the way cross-signing names keys: ed25519:<public key>."""

    def __init__(self, name: str = "") -> None:
        self.key = generate_signing_key("tmp")
        self.public = encode_base64(self.key.verify_key.encode())
        self.key.version = name or self.public

    @property
    def key_id(self) -> str:
        return f"ed25519:{self.key.version}"

    def sign(self, user_id: str, obj: dict[str, Any]) -> dict[str, Any]:
        return sign_json(obj, user_id, self.key)


def device_keys(client: Client, signer: Ed25519) -> dict[str, Any]:
    keys = {
        "user_id": client.user_id,
        "device_id": client.device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"curve25519:{client.device_id}": "curvekey", f"ed25519:{client.device_id}": signer.public},
    }
    return signer.sign(client.user_id, keys)  # type: ignore[arg-type]


def cross_signing_key(user_id: str, usage: str, key: Ed25519) -> dict[str, Any]:
    return {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{key.public}": key.public}}


def sync_token(client: Client) -> str:
    status, body = client.get("/sync?timeout=0")
    assert status == 200, body
    return body["next_batch"]


def test_upload_and_query_device_keys(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver, "ka"), new_user(homeserver, "kb")
    assert alice.put(f"/devices/{alice.device_id}", {"display_name": "Alice's phone"})[0] == 200
    device_key = Ed25519(alice.device_id or "")
    keys = device_keys(alice, device_key)
    status, body = alice.post("/keys/upload", {"device_keys": keys})
    assert (status, body) == (200, {"one_time_key_counts": {"signed_curve25519": 0}})

    status, body = bob.post("/keys/query", {"device_keys": {alice.user_id: []}})
    assert status == 200, body
    returned = body["device_keys"][alice.user_id][alice.device_id]
    assert returned["unsigned"] == {"device_display_name": "Alice's phone"}
    assert {k: v for k, v in returned.items() if k != "unsigned"} == keys  # signatures kept
    assert body["failures"] == {}
    # a named device, an unknown device, an unknown local user, a remote user
    status, body = bob.post(
        "/keys/query",
        {"device_keys": {alice.user_id: [alice.device_id, "NOPE"], "@nobody:localhost": [], "@x:elsewhere.org": []}},
    )
    assert status == 200
    assert list(body["device_keys"][alice.user_id]) == [alice.device_id]
    assert body["device_keys"]["@nobody:localhost"] == {}
    assert set(body["failures"]) == {"elsewhere.org"}


def test_upload_errors(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver, "ua"), new_user(homeserver, "ub")
    signer = Ed25519()
    status, body = alice.post("/keys/upload", {"device_keys": {**device_keys(alice, signer), "device_id": "OTHER"}})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = bob.post("/keys/upload", {"device_keys": device_keys(alice, signer)})
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    status, body = alice.post("/keys/upload", {"device_keys": "nope"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.post("/keys/upload", {"one_time_keys": {"no-colon": {"key": "x"}}})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.post("/keys/upload", {"one_time_keys": []})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.request("POST", "/_matrix/client/v3/keys/upload", b"{nope")
    assert (status, body["errcode"]) == (400, "M_NOT_JSON")
    assert alice.post("/keys/upload", {"one_time_keys": {"signed_curve25519:A": {"key": "a"}}})[0] == 200
    # the same key id with other content is refused; the same content is fine
    status, body = alice.post("/keys/upload", {"one_time_keys": {"signed_curve25519:A": {"key": "other"}}})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.post("/keys/upload", {"one_time_keys": {"signed_curve25519:A": {"key": "a"}}})
    assert (status, body) == (200, {"one_time_key_counts": {"signed_curve25519": 1}})
    status, body = alice.post("/keys/query", {"device_keys": {alice.user_id: "all"}})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = alice.post("/keys/query", {"device_keys": {"not-a-user": []}})
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.post("/keys/claim", {})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")
    status, body = Client(homeserver.base_url).post("/keys/upload", {})
    assert (status, body["errcode"]) == (401, "M_MISSING_TOKEN")


def test_claim_one_time_then_fallback(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver, "ca"), new_user(homeserver, "cb")
    otks = {f"signed_curve25519:K{i}": {"key": f"k{i}"} for i in range(3)}
    fallback = {"signed_curve25519:FB": {"key": "fb", "fallback": True}}
    status, body = alice.post("/keys/upload", {"one_time_keys": otks, "fallback_keys": fallback})
    assert (status, body) == (200, {"one_time_key_counts": {"signed_curve25519": 3}})

    query = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}, "@y:far.away": {"D": "x"}}}
    seen = []
    for _ in range(3):
        status, body = bob.post("/keys/claim", query)
        assert status == 200 and set(body["failures"]) == {"far.away"}
        ((name, key),) = body["one_time_keys"][alice.user_id][alice.device_id].items()
        assert otks[name] == key
        seen.append(name)
    assert sorted(seen) == sorted(otks)  # each one-time key handed out once
    for _ in range(2):
        body = bob.post("/keys/claim", query)[1]
        assert body["one_time_keys"][alice.user_id][alice.device_id] == fallback
    # nothing of an unknown algorithm or device
    body = bob.post(
        "/keys/claim", {"one_time_keys": {alice.user_id: {alice.device_id: "x", "NODEV": "signed_curve25519"}}}
    )[1]
    assert body["one_time_keys"] == {}
    assert alice.post("/keys/upload", {})[1] == {"one_time_key_counts": {"signed_curve25519": 0}}


def test_key_changes_between_sync_tokens(homeserver: Deployment) -> None:
    alice, bob, carol = (new_user(homeserver, p) for p in ("cha", "chb", "chc"))
    status, room = alice.post("/createRoom", {"preset": "public_chat"})
    room_id = urllib.parse.quote(room["room_id"], safe="")
    assert bob.post(f"/rooms/{room_id}/join")[0] == 200
    before = sync_token(alice)
    assert bob.post("/keys/upload", {"device_keys": device_keys(bob, Ed25519(bob.device_id or ""))})[0] == 200
    assert carol.post("/keys/upload", {"device_keys": device_keys(carol, Ed25519(carol.device_id or ""))})[0] == 200
    # with workers, the sync process learns of the change through replication
    for _ in range(50):
        after = sync_token(alice)
        status, body = alice.get(f"/keys/changes?from={before}&to={after}")
        if body.get("changed"):
            break
        time.sleep(0.1)
    # carol shares no room with alice
    assert (status, body) == (200, {"changed": [bob.user_id], "left": []})
    # a window after the change does not list bob
    assert alice.get(f"/keys/changes?from={after}&to={after}")[1] == {"changed": [], "left": []}
    status, body = alice.get(f"/keys/changes?from={before}")
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = alice.get(f"/keys/changes?from=garbage&to={after}")
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")


def test_cross_signing_upload_query_and_signatures(homeserver: Deployment) -> None:
    alice, bob = new_user(homeserver, "xa"), new_user(homeserver, "xb")
    uid = alice.user_id or ""
    device_key = Ed25519(alice.device_id or "")
    assert alice.post("/keys/upload", {"device_keys": device_keys(alice, device_key)})[0] == 200
    master, ssk, usk = Ed25519(), Ed25519(), Ed25519()
    master_key = cross_signing_key(uid, "master", master)
    ssk_key = master.sign(uid, cross_signing_key(uid, "self_signing", ssk))
    usk_key = master.sign(uid, cross_signing_key(uid, "user_signing", usk))

    # bad signature / wrong usage / no master key at all
    bad = cross_signing_key(uid, "self_signing", ssk)
    status, body = alice.post("/keys/device_signing/upload", {"self_signing_key": bad})
    assert (status, body["errcode"]) == (400, "M_MISSING_PARAM")
    status, body = alice.post("/keys/device_signing/upload", {"master_key": master_key, "self_signing_key": bad})
    assert (status, body["errcode"]) == (400, "M_INVALID_SIGNATURE")
    status, body = alice.post(
        "/keys/device_signing/upload", {"master_key": cross_signing_key(uid, "self_signing", master)}
    )
    assert (status, body["errcode"]) == (400, "M_INVALID_PARAM")
    status, body = alice.post("/keys/device_signing/upload", {"master_key": "x"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")

    # the first upload needs no UIA, nor does repeating it
    upload = {"master_key": master_key, "self_signing_key": ssk_key, "user_signing_key": usk_key}
    assert alice.post("/keys/device_signing/upload", upload) == (200, {})
    assert alice.post("/keys/device_signing/upload", upload) == (200, {})
    # replacing the master key needs the password
    new_master = cross_signing_key(uid, "master", Ed25519())
    status, body = alice.post("/keys/device_signing/upload", {"master_key": new_master})
    assert status == 401 and body["flows"] == [{"stages": ["m.login.password"]}]
    wrong = {**alice.password_auth(body["session"]), "password": "wrong"}
    status, body2 = alice.post("/keys/device_signing/upload", {"master_key": new_master, "auth": wrong})
    assert (status, body2["errcode"]) == (401, "M_FORBIDDEN")
    status, body = alice.post("/keys/query", {"device_keys": {uid: []}})
    assert body["master_keys"][uid] == master_key
    # with the password the master key is replaced; then the first one is restored
    assert alice.post(
        "/keys/device_signing/upload", {"master_key": new_master, "auth": alice.password_auth(body2["session"])}
    ) == (200, {})
    assert alice.post("/keys/query", {"device_keys": {uid: []}})[1]["master_keys"][uid] == new_master
    session = alice.post("/keys/device_signing/upload", upload)[1]["session"]
    assert alice.post("/keys/device_signing/upload", {**upload, "auth": alice.password_auth(session)}) == (200, {})

    status, body = alice.post("/keys/query", {"device_keys": {uid: []}})
    assert body["master_keys"][uid] == master_key
    assert body["self_signing_keys"][uid] == ssk_key
    assert body["user_signing_keys"][uid] == usk_key
    status, body = bob.post("/keys/query", {"device_keys": {uid: []}})
    assert uid in body["self_signing_keys"] and body["user_signing_keys"] == {}

    # alice signs her device with her self-signing key, bob's master key with her user-signing key
    bob_master = Ed25519()
    bob_uid = bob.user_id or ""
    bob_master_key = cross_signing_key(bob_uid, "master", bob_master)
    assert bob.post("/keys/device_signing/upload", {"master_key": bob_master_key}) == (200, {})
    signed_device = ssk.sign(uid, device_keys(alice, device_key))
    signed_bob = usk.sign(uid, dict(bob_master_key))
    forged = Ed25519(ssk.public).sign(uid, device_keys(alice, device_key))
    status, body = alice.post(
        "/keys/signatures/upload",
        {uid: {alice.device_id: signed_device}, bob_uid: {bob_master.public: signed_bob, "NOKEY": signed_bob}},
    )
    assert status == 200
    assert body["failures"] == {bob_uid: {"NOKEY": {"errcode": "M_NOT_FOUND", "error": "Unknown key"}}}
    status, body = alice.post("/keys/signatures/upload", {uid: {alice.device_id: forged}})
    assert body["failures"][uid][alice.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    # unsigned or altered objects, and keys that do not exist
    altered = ssk.sign(uid, {**device_keys(alice, device_key), "algorithms": ["other"]})
    for obj in ({"signatures": "x"}, altered):
        body = alice.post("/keys/signatures/upload", {uid: {alice.device_id: obj}})[1]
        assert body["failures"][uid][alice.device_id]["errcode"] == "M_INVALID_PARAM"
    body = alice.post("/keys/signatures/upload", {uid: {"NODEVICE": altered}, bob_uid: {bob.device_id: signed_bob}})[1]
    assert body["failures"][uid]["NODEVICE"]["errcode"] == "M_NOT_FOUND"
    assert body["failures"][bob_uid][bob.device_id]["errcode"] == "M_NOT_FOUND"  # bob uploaded no device keys
    status, body = alice.post("/keys/signatures/upload", {uid: "nope"})
    assert (status, body["errcode"]) == (400, "M_BAD_JSON")

    status, body = bob.post("/keys/query", {"device_keys": {uid: [], bob_uid: []}})
    sigs = body["device_keys"][uid][alice.device_id]["signatures"][uid]
    assert sigs[ssk.key_id] == signed_device["signatures"][uid][ssk.key_id]
    # alice's signature on bob's master key is only shown to alice
    assert uid not in body["master_keys"][bob_uid].get("signatures", {})
    body = alice.post("/keys/query", {"device_keys": {bob_uid: []}})[1]
    assert body["master_keys"][bob_uid]["signatures"][uid] == signed_bob["signatures"][uid]
