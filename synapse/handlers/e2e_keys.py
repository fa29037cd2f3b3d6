"""End-to-end encryption keys: upload, query, claim, changes, cross-signing.

Only local users are served: there is no federation yet, so queries and
claims naming users of other servers answer with a `failures` entry for
their server. What /keys/query shows for a user (device keys,
cross-signing keys, signatures) is written through the device_lists stream
(synapse/streams/device_lists.py) with the change GET /keys/changes and
/sync report.
"""

from typing import TYPE_CHECKING, Any, Optional

from signedjson.key import decode_verify_key_bytes
from signedjson.sign import SignatureVerifyException, verify_signed_json
from unpaddedbase64 import decode_base64

from synapse.api.errors import Codes, SynapseError
from synapse.streams.device_lists import device_lists_stream
from synapse.streams.tokens import StreamToken
from synapse.types import Requester, UserID

if TYPE_CHECKING:
    from synapse.server import HomeServer


KEY_TYPES = ("master", "self_signing", "user_signing")
_BODY_FIELDS = {"master": "master_key", "self_signing": "self_signing_key", "user_signing": "user_signing_key"}
# failure entry for users on other servers until federation exists
_REMOTE_FAILURE = {"status": 503, "message": "Federation is not available on this server"}


def _bad_json(msg: str) -> SynapseError:
    return SynapseError(400, msg, Codes.BAD_JSON)


def split_key_name(name: Any) -> tuple[str, str]:
    """`<algorithm>:<key_id>` -> (algorithm, key_id); M_BAD_JSON otherwise."""
    if not isinstance(name, str) or ":" not in name:
        raise _bad_json(f"Key name {name!r} is not of the form <algorithm>:<key_id>")
    algorithm, key_id = name.split(":", 1)
    if not algorithm or not key_id:
        raise _bad_json(f"Key name {name!r} is not of the form <algorithm>:<key_id>")
    return algorithm, key_id


def cross_signing_public_key(key: dict[str, Any]) -> tuple[str, str]:
    """(key id "ed25519:<pub>", public key) of a validated cross-signing key."""
    ((key_id, pub),) = key["keys"].items()
    return key_id, pub


def verify_signature(obj: dict[str, Any], signer: str, key_id: str, public_key: str) -> bool:
    """Whether `obj` carries a valid signature by `signer`'s ed25519 key `key_id`."""
    try:
        verify_key = decode_verify_key_bytes(key_id, decode_base64(public_key))
        verify_signed_json(obj, signer, verify_key)
    except (SignatureVerifyException, ValueError, TypeError, KeyError):
        # a bad signature, or malformed key material (nacl's errors are ValueErrors)
        return False
    return True


def _without_signatures(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}


def _add_signature(obj: dict[str, Any], signer: str, key_id: str, signature: str) -> None:
    obj.setdefault("signatures", {}).setdefault(signer, {})[key_id] = signature


class E2eKeysHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._hostname = hs.hostname

    @property
    def _store(self) -> Any:
        return self._hs.stores.e2e_keys

    def _writer(self) -> Any:
        return self._hs.stream_writer("device_lists")

    def _is_local(self, user_id: str) -> bool:
        try:
            return UserID.from_string(user_id).domain == self._hostname
        except SynapseError:
            raise SynapseError(400, f"Invalid user id {user_id!r}", Codes.INVALID_PARAM) from None

    # -- POST /keys/upload --------------------------------------------------
    async def upload_keys(self, requester: Requester, body: dict[str, Any]) -> dict[str, Any]:
        user_id, device_id = requester.user_id, requester.device_id
        if device_id is None:
            raise SynapseError(400, "The access token has no device to upload keys for", Codes.INVALID_PARAM)
        device_keys = body.get("device_keys")
        if device_keys is not None:
            self._check_device_keys(device_keys, user_id, device_id)
        one_time_keys = self._parse_key_map(body.get("one_time_keys"), "one_time_keys")
        fallback_keys = self._parse_key_map(body.get("fallback_keys"), "fallback_keys")
        if len({alg for alg, _, _ in fallback_keys}) != len(fallback_keys):
            raise SynapseError(400, "At most one fallback key per algorithm", Codes.INVALID_PARAM)

        if device_keys is not None:
            await self._writer().set_device_keys(user_id=user_id, device_id=device_id, keys=device_keys)
        if one_time_keys:
            existing = await self._store.get_one_time_keys(
                user_id, device_id, [(alg, key_id) for alg, key_id, _ in one_time_keys]
            )
            for alg, key_id, key in one_time_keys:
                if (alg, key_id) in existing and existing[(alg, key_id)] != key:
                    raise SynapseError(
                        400, f"One time key {alg}:{key_id} already exists with other content", Codes.INVALID_PARAM
                    )
            await self._store.add_one_time_keys(user_id, device_id, one_time_keys)
        if fallback_keys:
            await self._store.set_fallback_keys(user_id, device_id, fallback_keys)
        counts = await self._store.count_one_time_keys(user_id, device_id)
        # clients (nio among them) expect signed_curve25519 to be listed
        return {"one_time_key_counts": {"signed_curve25519": 0, **counts}}

    @staticmethod
    def _check_device_keys(keys: Any, user_id: str, device_id: str) -> None:
        if not isinstance(keys, dict):
            raise _bad_json("'device_keys' must be an object")
        if keys.get("user_id") != user_id or keys.get("device_id") != device_id:
            raise SynapseError(403, "Device keys may only be uploaded for the requester's own device", Codes.FORBIDDEN)
        algorithms, key_map, signatures = keys.get("algorithms"), keys.get("keys"), keys.get("signatures")
        if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
            raise _bad_json("'device_keys.algorithms' must be a list of strings")
        if not isinstance(key_map, dict) or not all(isinstance(v, str) for v in key_map.values()):
            raise _bad_json("'device_keys.keys' must map key names to strings")
        for name in key_map:
            split_key_name(name)
        if not isinstance(signatures, dict) or not all(isinstance(v, dict) for v in signatures.values()):
            raise _bad_json("'device_keys.signatures' must be an object of objects")

    @staticmethod
    def _parse_key_map(keys: Any, field: str) -> list[tuple[str, str, Any]]:
        if keys is None:
            return []
        if not isinstance(keys, dict):
            raise _bad_json(f"'{field}' must be an object")
        parsed = []
        for name, key in keys.items():
            algorithm, key_id = split_key_name(name)
            if not isinstance(key, (dict, str)):
                raise _bad_json(f"Key {name!r} in '{field}' must be an object or a string")
            parsed.append((algorithm, key_id, key))
        return parsed

    # -- POST /keys/query -------------------------------------------------------
    async def query_keys(self, requester: Requester, body: dict[str, Any]) -> dict[str, Any]:
        wanted = body.get("device_keys")
        if not isinstance(wanted, dict):
            raise _bad_json("'device_keys' must be an object")
        failures: dict[str, Any] = {}
        query: list[tuple[str, Optional[str]]] = []
        local_users: list[str] = []
        for user_id, device_ids in wanted.items():
            if not isinstance(device_ids, list) or not all(isinstance(d, str) for d in device_ids):
                raise _bad_json(f"Devices for {user_id} must be a list of device ids")
            if not self._is_local(user_id):
                failures[UserID.from_string(user_id).domain] = dict(_REMOTE_FAILURE)
                continue
            local_users.append(user_id)
            query += [(user_id, d) for d in device_ids] if device_ids else [(user_id, None)]

        stored = await self._store.get_device_keys(query)
        cross_signing = await self._store.get_cross_signing_keys(local_users)
        signatures = await self._store.get_signatures(local_users)
        device_keys: dict[str, dict[str, Any]] = {user_id: {} for user_id in local_users}
        for user_id, devices in stored.items():
            for device_id, entry in devices.items():
                keys = dict(entry["keys"])
                # `unsigned` is ours to fill: whatever the client sent is dropped
                keys["unsigned"] = {}
                if entry["display_name"] is not None:
                    keys["unsigned"]["device_display_name"] = entry["display_name"]
                device_keys[user_id][device_id] = keys

        result: dict[str, Any] = {"device_keys": device_keys, "failures": failures}
        master_keys: dict[str, Any] = {}
        self_signing_keys: dict[str, Any] = {}
        user_signing_keys: dict[str, Any] = {}
        for user_id, keys in cross_signing.items():
            if "master" in keys:
                master_keys[user_id] = keys["master"]
            if "self_signing" in keys:
                self_signing_keys[user_id] = keys["self_signing"]
            if "user_signing" in keys and user_id == requester.user_id:
                user_signing_keys[user_id] = keys["user_signing"]
        # uploaded signatures: on devices (by their owner's self-signing key),
        # on master keys (by the owner's devices, or by another user's
        # user-signing key: only that user may see those)
        for sig in signatures:
            target_user, target = sig["target_user_id"], sig["target_device_id"]
            signer = sig["user_id"]
            if signer != target_user and signer != requester.user_id:
                continue
            device = device_keys.get(target_user, {}).get(target)
            if device is not None:
                _add_signature(device, signer, sig["key_id"], sig["signature"])
                continue
            master = master_keys.get(target_user)
            if master is not None and cross_signing_public_key(master)[1] == target:
                _add_signature(master, signer, sig["key_id"], sig["signature"])
        result["master_keys"] = master_keys
        result["self_signing_keys"] = self_signing_keys
        result["user_signing_keys"] = user_signing_keys
        return result

    # -- POST /keys/claim ----------------------------------------------------------
    async def claim_keys(self, body: dict[str, Any]) -> dict[str, Any]:
        wanted = body.get("one_time_keys")
        if not isinstance(wanted, dict):
            raise _bad_json("'one_time_keys' must be an object")
        failures: dict[str, Any] = {}
        query: list[tuple[str, str, str]] = []
        for user_id, devices in wanted.items():
            if not isinstance(devices, dict) or not all(isinstance(a, str) for a in devices.values()):
                raise _bad_json(f"Devices for {user_id} must map device ids to algorithms")
            if not self._is_local(user_id):
                failures[UserID.from_string(user_id).domain] = dict(_REMOTE_FAILURE)
                continue
            query += [(user_id, device_id, alg) for device_id, alg in devices.items()]
        claimed = await self._store.claim_keys(query)
        one_time_keys: dict[str, dict[str, Any]] = {}
        for (user_id, device_id), (alg, key_id, key) in claimed.items():
            one_time_keys.setdefault(user_id, {})[device_id] = {f"{alg}:{key_id}": key}
        return {"one_time_keys": one_time_keys, "failures": failures}

    # -- GET /keys/changes -----------------------------------------------------------
    async def get_key_changes(self, requester: Requester, from_token: str, to_token: str) -> dict[str, Any]:
        """Who the requester must re-query (`changed`) or forget (`left`)
        between two sync tokens (see synapse/streams/device_lists.py)."""
        return await device_lists_stream(self._hs).changes_between(
            requester.user_id, StreamToken.from_string(from_token), StreamToken.from_string(to_token)
        )

    # -- POST /keys/device_signing/upload ------------------------------------------------
    async def cross_signing_keys_need_uia(self, user_id: str, body: dict[str, Any]) -> bool:
        """UIA is needed unless the user has no master key yet, or the body
        repeats exactly the keys already stored (a retried upload)."""
        existing = (await self._store.get_cross_signing_keys([user_id])).get(user_id, {})
        if "master" not in existing:
            return False
        for keytype, field in _BODY_FIELDS.items():
            if field in body and existing.get(keytype) != body[field]:
                return True
        return False

    async def upload_cross_signing_keys(self, user_id: str, body: dict[str, Any]) -> None:
        """Validates and stores the keys in the body (UIA already done)."""
        new: dict[str, dict[str, Any]] = {}
        for keytype, field in _BODY_FIELDS.items():
            if field in body:
                new[keytype] = self._check_cross_signing_key(body[field], user_id, keytype)
        if not new:
            return
        existing = (await self._store.get_cross_signing_keys([user_id])).get(user_id, {})
        master = new.get("master", existing.get("master"))
        if master is None:
            raise SynapseError(400, "No master signing key is available", Codes.MISSING_PARAM)
        master_key_id, master_pub = cross_signing_public_key(master)
        for keytype in ("self_signing", "user_signing"):
            if keytype in new and not verify_signature(new[keytype], user_id, master_key_id, master_pub):
                raise SynapseError(400, f"Invalid signature on the {keytype} key", Codes.INVALID_SIGNATURE)
        devices = {d["device_id"] for d in await self._hs.stores.devices.get_devices_by_user(user_id)}
        for key in new.values():
            if cross_signing_public_key(key)[1] in devices:
                raise SynapseError(403, "Key ID in use", Codes.FORBIDDEN)
        await self._writer().set_cross_signing_keys(user_id=user_id, keys=new)

    @staticmethod
    def _check_cross_signing_key(key: Any, user_id: str, keytype: str) -> dict[str, Any]:
        if not isinstance(key, dict):
            raise _bad_json(f"The {keytype} key must be an object")
        if key.get("user_id") != user_id:
            raise SynapseError(400, f"The {keytype} key must belong to {user_id}", Codes.INVALID_PARAM)
        usage = key.get("usage")
        if not isinstance(usage, list) or keytype not in usage:
            raise SynapseError(400, f"The {keytype} key must have usage {keytype!r}", Codes.INVALID_PARAM)
        keys = key.get("keys")
        if not isinstance(keys, dict) or len(keys) != 1:
            raise SynapseError(400, f"The {keytype} key must hold exactly one public key", Codes.INVALID_PARAM)
        ((name, pub),) = keys.items()
        algorithm, key_id = split_key_name(name)
        if algorithm != "ed25519" or key_id != pub or not isinstance(pub, str):
            raise SynapseError(400, f"The {keytype} key must be 'ed25519:<public key>'", Codes.INVALID_PARAM)
        if "signatures" in key and not isinstance(key["signatures"], dict):
            raise _bad_json(f"The {keytype} key's signatures must be an object")
        return key

    # -- POST /keys/signatures/upload ---------------------------------------------------
    async def upload_signatures(self, requester: Requester, body: dict[str, Any]) -> dict[str, Any]:
        """Checks and stores each signature; per-key errors go in `failures`."""
        user_id = requester.user_id
        failures: dict[str, dict[str, Any]] = {}
        accepted: list[tuple[str, str, str, str]] = []
        own_cross = (await self._store.get_cross_signing_keys([user_id])).get(user_id, {})
        for target_user, objects in body.items():
            if not isinstance(objects, dict):
                raise _bad_json(f"Signatures for {target_user} must be an object")
            for key_id, signed in objects.items():
                try:
                    accepted.append(await self._check_signed_object(user_id, own_cross, target_user, key_id, signed))
                except SynapseError as e:
                    failures.setdefault(target_user, {})[key_id] = {"errcode": e.errcode, "error": e.msg}
        if accepted:
            await self._writer().store_signatures(signer=user_id, signatures=[list(s) for s in accepted])
        return {"failures": failures}

    async def _check_signed_object(
        self, signer: str, own_cross: dict[str, Any], target_user: str, key_id: str, signed: Any
    ) -> tuple[str, str, str, str]:
        """(signing key id, target user, target key id, signature) if the
        object is a stored key carrying a valid signature by a key `signer`
        may sign it with."""
        signatures = signed.get("signatures") if isinstance(signed, dict) else None
        if not isinstance(signatures, dict) or not isinstance(signatures.get(signer), dict):
            raise SynapseError(400, "The object carries no signature by the uploader", Codes.INVALID_PARAM)
        if not self._is_local(target_user):
            raise SynapseError(400, "Keys of remote users cannot be signed here", Codes.INVALID_PARAM)
        stored = await self._stored_key(target_user, key_id)
        if stored is None:
            raise SynapseError(404, "Unknown key", Codes.NOT_FOUND)
        kind, stored_key = stored
        if _without_signatures(stored_key) != _without_signatures(signed):
            raise SynapseError(400, "The signed object does not match the stored key", Codes.INVALID_PARAM)
        # which of the signer's keys may sign this kind of key
        if target_user == signer and kind == "device":
            signing = own_cross.get("self_signing")
            signing_keys = [cross_signing_public_key(signing)] if signing else []
        elif target_user == signer:
            own_devices = (await self._store.get_device_keys([(signer, None)])).get(signer, {})
            signing_keys = [
                (name, pub)
                for entry in own_devices.values()
                for name, pub in entry["keys"].get("keys", {}).items()
                if name.startswith("ed25519:")
            ]
        else:
            signing = own_cross.get("user_signing")
            signing_keys = [cross_signing_public_key(signing)] if signing else []
            if kind != "master":
                raise SynapseError(400, "Only master keys of other users can be signed", Codes.INVALID_PARAM)
        for name, pub in signing_keys:
            signature = signed["signatures"][signer].get(name)
            if isinstance(signature, str) and verify_signature(signed, signer, name, pub):
                return name, target_user, key_id, signature
        raise SynapseError(400, "Invalid signature", Codes.INVALID_SIGNATURE)

    async def _stored_key(self, user_id: str, key_id: str) -> Optional[tuple[str, dict[str, Any]]]:
        """("device" | "master", key) for a device id or a master public key."""
        devices = (await self._store.get_device_keys([(user_id, key_id)])).get(user_id, {})
        if key_id in devices:
            return "device", devices[key_id]["keys"]
        master = (await self._store.get_cross_signing_keys([user_id])).get(user_id, {}).get("master")
        if master is not None and cross_signing_public_key(master)[1] == key_id:
            return "master", master
        return None
