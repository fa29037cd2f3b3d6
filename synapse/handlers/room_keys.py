"""Server-side room key backups (spec: "Server-side key backups").

Keys may only be written to the current (most recent, undeleted) backup
version: writing to another answers 403 M_WRONG_ROOM_KEYS_VERSION with
`current_version`. When a session's key is uploaded twice, the stored one
is kept unless the new one is better: verified beats unverified, then a
lower first_message_index, then a lower forwarded_count.
"""

from typing import TYPE_CHECKING, Any, Optional

from synapse.api.errors import Codes, NotFoundError, SynapseError

if TYPE_CHECKING:
    from synapse.server import HomeServer

BACKUP_ALGORITHMS = ("m.megolm_backup.v1.curve25519-aes-sha2",)


def should_replace_room_key(existing: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a newly uploaded key for a session replaces the stored one."""
    if existing["is_verified"] != new["is_verified"]:
        return bool(new["is_verified"])
    if existing["first_message_index"] != new["first_message_index"]:
        return new["first_message_index"] < existing["first_message_index"]
    return new["forwarded_count"] < existing["forwarded_count"]


def parse_version(version: Optional[str]) -> Optional[int]:
    """A backup version string as stored (versions are decimal numbers);
    None for strings that cannot name any version."""
    if version is None or not version.isdigit() or len(version) > 18:
        return None
    return int(version)


def check_key_backup_data(key: Any) -> dict[str, Any]:
    """Validates a KeyBackupData object (M_BAD_JSON / M_MISSING_PARAM)."""
    if not isinstance(key, dict):
        raise SynapseError(400, "Key backup data must be an object", Codes.BAD_JSON)
    for name in ("first_message_index", "forwarded_count", "is_verified", "session_data"):
        if name not in key:
            raise SynapseError(400, f"Missing '{name}' in key backup data", Codes.MISSING_PARAM)
    for name in ("first_message_index", "forwarded_count"):
        if not isinstance(key[name], int) or isinstance(key[name], bool) or key[name] < 0:
            raise SynapseError(400, f"'{name}' must be a non-negative integer", Codes.BAD_JSON)
    if not isinstance(key["is_verified"], bool):
        raise SynapseError(400, "'is_verified' must be a boolean", Codes.BAD_JSON)
    if not isinstance(key["session_data"], dict):
        raise SynapseError(400, "'session_data' must be an object", Codes.BAD_JSON)
    return {name: key[name] for name in ("first_message_index", "forwarded_count", "is_verified", "session_data")}


def _version_body(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": str(info["version"]),
        "algorithm": info["algorithm"],
        "auth_data": info["auth_data"],
        "etag": str(info["etag"]),
        "count": info["count"],
    }


def _check_version_body(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    algorithm, auth_data = body.get("algorithm"), body.get("auth_data")
    if algorithm is None or auth_data is None:
        raise SynapseError(400, "'algorithm' and 'auth_data' are required", Codes.MISSING_PARAM)
    if not isinstance(algorithm, str):
        raise SynapseError(400, "'algorithm' must be a string", Codes.BAD_JSON)
    if algorithm not in BACKUP_ALGORITHMS:
        raise SynapseError(400, f"Unsupported backup algorithm {algorithm!r}", Codes.INVALID_PARAM)
    if not isinstance(auth_data, dict):
        raise SynapseError(400, "'auth_data' must be an object", Codes.BAD_JSON)
    return algorithm, auth_data


class RoomKeysHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    @property
    def _store(self) -> Any:
        return self._hs.stores.room_keys

    # -- versions -----------------------------------------------------------
    async def create_version(self, user_id: str, body: dict[str, Any]) -> str:
        algorithm, auth_data = _check_version_body(body)
        return str(await self._store.create_version(user_id, algorithm, auth_data))

    async def get_version_info(self, user_id: str, version: Optional[str]) -> dict[str, Any]:
        """The named version, or the current one when `version` is None; 404 if none."""
        number = None
        if version is not None:
            number = parse_version(version)
            if number is None:
                raise NotFoundError("Unknown backup version")
        info = await self._store.get_version(user_id, number)
        if info is None:
            raise NotFoundError("No current backup version" if version is None else "Unknown backup version")
        return _version_body(info)

    async def update_version(self, user_id: str, version: str, body: dict[str, Any]) -> None:
        algorithm, auth_data = _check_version_body(body)
        if "version" in body and body["version"] != version:
            raise SynapseError(400, "Version in body does not match the path", Codes.INVALID_PARAM)
        info = await self.get_version_info(user_id, version)
        if info["algorithm"] != algorithm:
            raise SynapseError(400, "Algorithm does not match", Codes.INVALID_PARAM)
        await self._store.update_version_auth_data(user_id, int(version), auth_data)

    async def delete_version(self, user_id: str, version: str) -> None:
        """Deletes a backup and its keys; deleting it again succeeds, a
        version that never existed is 404."""
        number = parse_version(version)
        state = None if number is None else await self._store.version_state(user_id, number)
        if state is None:
            raise NotFoundError("Unknown backup version")
        if state:
            await self._store.delete_version(user_id, number)

    # -- keys ------------------------------------------------------------------
    async def _existing_version(self, user_id: str, version: str) -> int:
        number = parse_version(version)
        if number is None or not await self._store.version_state(user_id, number):
            raise NotFoundError("Unknown backup version")
        return number

    async def upload_room_keys(
        self, user_id: str, version: str, keys: list[tuple[str, str, dict[str, Any]]]
    ) -> dict[str, Any]:
        """Stores (room, session, validated KeyBackupData) keys in the current
        backup; returns {"etag", "count"}."""
        current = await self._store.get_version(user_id)
        if current is None:
            raise NotFoundError("No current backup version")
        if parse_version(version) != current["version"]:
            raise SynapseError(
                403,
                "Wrong backup version.",
                Codes.WRONG_ROOM_KEYS_VERSION,
                {"current_version": str(current["version"])},
            )
        etag, count = await self._store.upsert_room_keys(user_id, current["version"], keys, should_replace_room_key)
        return {"etag": str(etag), "count": count}

    async def get_room_keys(
        self, user_id: str, version: str, room_id: Optional[str] = None, session_id: Optional[str] = None
    ) -> dict[str, Any]:
        """The keys as the GET variant asks: all rooms, one room, or one session (404 if absent)."""
        number = await self._existing_version(user_id, version)
        rows = await self._store.get_room_keys(user_id, number, room_id, session_id)
        if session_id is not None:
            if not rows:
                raise NotFoundError("Key not found.")
            return rows[0][2]
        sessions: dict[str, dict[str, Any]] = {}
        for row_room, row_session, key in rows:
            sessions.setdefault(row_room, {})[row_session] = key
        if room_id is not None:
            return {"sessions": sessions.get(room_id, {})}
        return {"rooms": {room: {"sessions": s} for room, s in sessions.items()}}

    async def delete_room_keys(
        self, user_id: str, version: str, room_id: Optional[str] = None, session_id: Optional[str] = None
    ) -> dict[str, Any]:
        number = await self._existing_version(user_id, version)
        etag, count = await self._store.delete_room_keys(user_id, number, room_id, session_id)
        return {"etag": str(etag), "count": count}
