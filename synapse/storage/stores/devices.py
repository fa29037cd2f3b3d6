"""Devices: one row per (user, device id), owning the `devices` table.

A device exists from the login that created it until it is deleted (logout,
DELETE /devices, password change, deactivation); the device_lists stream
deletes it (synapse/streams/device_lists.py). Hidden devices are internal
and never listed to clients.
"""

from typing import Any, Optional

from synapse.storage.database import DatabasePool
from synapse.util.clock import Clock

_COLUMNS = "user_id, device_id, display_name, last_seen, ip, user_agent"


def _device_row(row: tuple) -> dict[str, Any]:
    user_id, device_id, display_name, last_seen, ip, user_agent = row
    return {
        "user_id": user_id,
        "device_id": device_id,
        "display_name": display_name,
        "last_seen": last_seen,
        "ip": ip,
        "user_agent": user_agent,
    }


class DeviceStore:
    def __init__(self, db: DatabasePool, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def store_device(self, user_id: str, device_id: str, display_name: Optional[str]) -> bool:
        """Creates the device if it does not exist; True if it was created.

        An existing device keeps its display name, as a re-login with the
        same device id must not rename it.
        """

        def txn_fn(txn: Any) -> bool:
            txn.execute(
                "INSERT INTO devices (user_id, device_id, display_name, hidden) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (user_id, device_id) DO NOTHING",
                (user_id, device_id, display_name, False),
            )
            return txn.rowcount == 1

        return await self.db.runInteraction("store_device", txn_fn)

    async def get_device(self, user_id: str, device_id: str) -> Optional[dict[str, Any]]:
        def txn_fn(txn: Any) -> Optional[dict[str, Any]]:
            txn.execute(
                f"SELECT {_COLUMNS} FROM devices WHERE user_id = ? AND device_id = ? AND hidden = ?",
                (user_id, device_id, False),
            )
            row = txn.fetchone()
            return _device_row(row) if row else None

        return await self.db.runInteraction("get_device", txn_fn)

    async def get_devices_by_user(self, user_id: str) -> list[dict[str, Any]]:
        """The user's visible devices, ordered by device id."""

        def txn_fn(txn: Any) -> list[dict[str, Any]]:
            txn.execute(
                f"SELECT {_COLUMNS} FROM devices WHERE user_id = ? AND hidden = ? ORDER BY device_id",
                (user_id, False),
            )
            return [_device_row(r) for r in txn.fetchall()]

        return await self.db.runInteraction("get_devices_by_user", txn_fn)

    async def update_device(self, user_id: str, device_id: str, display_name: Optional[str]) -> bool:
        """Renames a visible device; False if there is no such device."""

        def txn_fn(txn: Any) -> bool:
            txn.execute(
                "UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ? AND hidden = ?",
                (display_name, user_id, device_id, False),
            )
            return txn.rowcount == 1

        return await self.db.runInteraction("update_device", txn_fn)

    async def record_last_seen(self, user_id: str, device_id: str, ip: str, user_agent: Optional[str]) -> None:
        """Remembers where and when the device was last used."""

        def txn_fn(txn: Any) -> None:
            txn.execute(
                "UPDATE devices SET last_seen = ?, ip = ?, user_agent = ? WHERE user_id = ? AND device_id = ?",
                (self.clock.time_msec(), ip, user_agent, user_id, device_id),
            )

        await self.db.runInteraction("record_last_seen", txn_fn)
