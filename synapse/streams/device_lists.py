"""The device_lists stream: which users' devices or device keys changed.

Each change of a user's device list (a device added, renamed or deleted)
or of the keys /keys/query shows for them (device keys, cross-signing keys,
signatures) is a row (position, user) written on the stream's writer
(`stream_writers.device_lists`, default main). The keys themselves are
written here, in the transaction of their change row, so no upload is ever
stored without its change (a retried identical upload would record none);
deleting devices is one write too: the devices, their keys and the change.
Devices are created and renamed in the `devices` table by the device
handler, which then records the change.

A client learns about changes through /sync's `device_lists` and GET
/keys/changes, both from `changes_between`: `changed` holds the users
sharing a joined room with the client's user (and that user) whose lists
changed in (since, now], plus users who newly share a room with it;
`left` holds users who shared a room at `since` and share none now
(either side left). Membership comes from the events positions of the same
two tokens. A change wakes the long-polls of everyone in the changed
user's joined rooms.
"""

import json
from typing import TYPE_CHECKING, Any, Optional

from synapse.replication.positions import StreamUpdates
from synapse.storage.database import DatabasePool
from synapse.streams.base import UserStream
from synapse.streams.tokens import StreamToken

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]
# memberships after which a user no longer shares the room
_GONE = ("leave", "ban")


def _record_txn(txn: Any, stream_id: int, user_ids: list[str]) -> None:
    txn.executemany(
        "INSERT INTO device_lists_changes (stream_id, user_id) VALUES (?, ?)",
        [(stream_id, user_id) for user_id in user_ids],
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _set_device_keys_txn(txn: Any, stream_id: int, user_id: str, device_id: str, keys: JsonDict, now_ms: int) -> None:
    txn.execute(
        "INSERT INTO e2e_device_keys_json (user_id, device_id, ts_added_ms, key_json) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, device_id) DO UPDATE SET ts_added_ms = excluded.ts_added_ms,"
        " key_json = excluded.key_json",
        (user_id, device_id, now_ms, _dumps(keys)),
    )
    _record_txn(txn, stream_id, [user_id])


def _set_cross_signing_keys_txn(txn: Any, stream_id: int, user_id: str, keys: JsonDict, now_ms: int) -> None:
    for keytype, key in keys.items():
        DatabasePool.simple_upsert_txn(
            txn,
            "e2e_cross_signing_keys",
            {"user_id": user_id, "keytype": keytype},
            {"key_json": _dumps(key), "ts_added_ms": now_ms},
        )
    _record_txn(txn, stream_id, [user_id])


def _store_signatures_txn(txn: Any, stream_id: int, signer: str, signatures: list[list[str]]) -> None:
    for key_id, target_user, target_key, signature in signatures:
        DatabasePool.simple_upsert_txn(
            txn,
            "e2e_cross_signing_signatures",
            {"target_user_id": target_user, "target_device_id": target_key, "user_id": signer, "key_id": key_id},
            {"signature": signature},
        )
    _record_txn(txn, stream_id, sorted({s[1] for s in signatures}))


def _delete_devices_txn(txn: Any, stream_id: int, user_id: str, device_ids: list[str]) -> None:
    """Deletes the devices with every key they uploaded, and records the
    change if any of them existed."""
    existed = False
    for device_id in device_ids:
        txn.execute("DELETE FROM devices WHERE user_id = ? AND device_id = ?", (user_id, device_id))
        existed = existed or txn.rowcount > 0
        for table in ("e2e_device_keys_json", "e2e_one_time_keys_json", "e2e_fallback_keys_json"):
            txn.execute(f"DELETE FROM {table} WHERE user_id = ? AND device_id = ?", (user_id, device_id))
        txn.execute(
            "DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ? AND target_device_id = ?",
            (user_id, device_id),
        )
    if existed:
        _record_txn(txn, stream_id, [user_id])


class DeviceListsStream(UserStream):
    NAME = "device_lists"
    WRITE_METHODS = (
        "record_changes",
        "delete_devices",
        "set_device_keys",
        "set_cross_signing_keys",
        "store_signatures",
    )

    # -- writes (on the writer only) -------------------------------------------
    async def record_changes(self, user_ids: list[str]) -> int:
        """Records that the users' device lists or keys changed (after the
        caller stored the change)."""
        users = sorted(set(user_ids))
        return await self._write("record_device_list_changes", _record_txn, users, **await self._audience(users))

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> int:
        """Deletes the user's devices and all their keys in one transaction."""
        return await self._write(
            "delete_devices", _delete_devices_txn, user_id, sorted(set(device_ids)), **await self._audience([user_id])
        )

    async def set_device_keys(self, user_id: str, device_id: str, keys: JsonDict) -> int:
        """Stores the device's identity keys with the change (none if they
        are what is stored already)."""
        stored = await self._hs.stores.e2e_keys.get_device_keys([(user_id, device_id)])
        if stored.get(user_id, {}).get(device_id, {}).get("keys") == keys:
            return self._generator.get_current_token()
        return await self._write(
            "set_device_keys",
            _set_device_keys_txn,
            user_id,
            device_id,
            keys,
            self._hs.clock.time_msec(),
            **await self._audience([user_id]),
        )

    async def set_cross_signing_keys(self, user_id: str, keys: JsonDict) -> int:
        """Stores keytype -> key for the user (replacing keys of those types)."""
        return await self._write(
            "set_cross_signing_keys",
            _set_cross_signing_keys_txn,
            user_id,
            keys,
            self._hs.clock.time_msec(),
            **await self._audience([user_id]),
        )

    async def store_signatures(self, signer: str, signatures: list[list[str]]) -> int:
        """Stores [signing key id, target user, target key id, signature]
        rows made by `signer`: a change of each target user."""
        targets = sorted({s[1] for s in signatures})
        return await self._write(
            "store_signatures", _store_signatures_txn, signer, signatures, **await self._audience(targets)
        )

    async def _audience(self, user_ids: list[str]) -> dict[str, Any]:
        """The notifier keys of whoever must hear of a change of these users."""
        rooms = await self._hs.stores.device_lists.get_joined_rooms_of_users(user_ids)
        return {"users": user_ids, "rooms": sorted(rooms)}

    # -- readers ---------------------------------------------------------------
    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        users = await self._hs.stores.device_lists.get_users_changed_between(from_pos, to_pos)
        return StreamUpdates(**await self._audience(sorted(users)))

    async def changes_between(self, user_id: str, since: StreamToken, now: StreamToken) -> JsonDict:
        """{"changed": [...], "left": [...]} for `user_id` between two sync tokens."""
        store = self._hs.stores.device_lists
        from_pos, to_pos = since.get(self.NAME), now.get(self.NAME)
        changed_users = await store.get_users_changed_between(from_pos, to_pos) if to_pos > from_pos else set()
        events_from, events_to = since.room_key, now.room_key
        if not changed_users and events_to <= events_from:
            return {"changed": [], "left": []}

        newly_sharing: set[str] = set()
        departed: set[str] = set()
        if events_to > events_from:
            own_changes = await self._hs.stores.stream.get_membership_changes_for_user(user_id, events_from, events_to)
            # the user's last membership in each room it joined or left in the range
            own_last = {change.room_id: change.membership for change in own_changes}
            joined_now = {r.room_id for r in await self._hs.stores.members.get_rooms_for_user(user_id)}
            rooms = joined_now | set(own_last)
            for _, other, membership in await store.get_membership_changes_in_rooms(rooms, events_from, events_to):
                if membership == "join":
                    newly_sharing.add(other)
                elif membership in _GONE:
                    departed.add(other)
            members = await store.get_joined_members_of_rooms(own_last)
            for room_id, membership in own_last.items():
                if membership == "join":
                    newly_sharing.update(members[room_id])
                elif membership in _GONE:
                    departed.update(members[room_id])
        candidates = (changed_users | newly_sharing | departed) - {user_id}
        sharing = await store.get_users_sharing_a_room(user_id, candidates) if candidates else set()
        changed = ((changed_users | newly_sharing) & sharing) | (changed_users & {user_id})
        left = departed - sharing - {user_id}
        return {"changed": sorted(changed), "left": sorted(left)}


def device_lists_stream(hs: "HomeServer") -> DeviceListsStream:
    """This process's device_lists stream object (for its readers)."""
    stream = hs.user_streams[DeviceListsStream.NAME]
    assert isinstance(stream, DeviceListsStream)
    return stream
