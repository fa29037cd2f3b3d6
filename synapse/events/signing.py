"""Signing and verifying events and plain JSON objects with ed25519 keys.

An event's signature covers its *redacted* form (which still contains the
content hash), so it stays checkable after redaction; see server-server-api
"Signing Events". Plain JSON (key responses, request auth, invites'
third-party signed blocks) is signed as the appendix "Signing JSON" says;
signedjson implements exactly that.
"""

from typing import Any

from signedjson.key import SUPPORTED_ALGORITHMS
from signedjson.sign import SignatureVerifyException, verify_signed_json
from signedjson.sign import sign_json as _signedjson_sign
from signedjson.types import SigningKey, VerifyKey

from synapse.events.model import JsonDict
from synapse.events.redaction import prune_event_dict
from synapse.events.room_versions import RoomVersion


def sign_json(json_object: JsonDict, signer: str, signing_key: SigningKey) -> JsonDict:
    """A copy of `json_object` with `signer`'s signature added to `signatures`.

    Existing signatures (of any signer) are kept; `unsigned` is not covered.
    """
    signed = dict(json_object)
    signed["signatures"] = {name: dict(sigs) for name, sigs in (json_object.get("signatures") or {}).items()}
    return _signedjson_sign(signed, signer, signing_key)


def verify_json(json_object: JsonDict, signer: str, verify_key: VerifyKey) -> bool:
    """Whether `json_object` carries a valid signature by `signer` with `verify_key`."""
    signatures: Any = json_object.get("signatures")
    if not isinstance(signatures, dict) or not isinstance(signatures.get(signer), dict):
        return False
    try:
        verify_signed_json(json_object, signer, verify_key)
    except SignatureVerifyException:
        return False
    return True


def signature_key_ids(json_object: JsonDict, signer: str) -> list[str]:
    """The key ids (e.g. 'ed25519:abc') `signer` signed with, limited to algorithms we can check."""
    signatures: Any = json_object.get("signatures")
    if not isinstance(signatures, dict) or not isinstance(signatures.get(signer), dict):
        return []
    return [key_id for key_id in signatures[signer] if key_id.split(":", 1)[0] in SUPPORTED_ALGORITHMS]


def compute_event_signature(
    room_version: RoomVersion, event_dict: JsonDict, signer: str, signing_key: SigningKey
) -> dict[str, dict[str, str]]:
    """`{signer: {key_id: signature}}` over the redacted event.

    The event must already carry its content hash, since the signature
    covers the hash, not the redactable content.
    """
    redacted = prune_event_dict(room_version, event_dict)
    redacted.pop("signatures", None)
    signed = _signedjson_sign(redacted, signer, signing_key)
    return {signer: signed["signatures"][signer]}


def sign_event(event_dict: JsonDict, server_name: str, signing_key: SigningKey, room_version: RoomVersion) -> JsonDict:
    """A copy of `event_dict` with `server_name`'s signature added (others kept)."""
    new_signature = compute_event_signature(room_version, event_dict, server_name, signing_key)
    signatures = {name: dict(sigs) for name, sigs in (event_dict.get("signatures") or {}).items()}
    signatures.setdefault(server_name, {}).update(new_signature[server_name])
    return {**event_dict, "signatures": signatures}


def verify_event_signature(
    event_dict: JsonDict, server_name: str, verify_key: VerifyKey, room_version: RoomVersion
) -> bool:
    """Whether `server_name` validly signed this event (full or redacted copy) with `verify_key`."""
    return verify_json(prune_event_dict(room_version, event_dict), server_name, verify_key)
