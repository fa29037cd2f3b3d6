"""Server-side room key backups: owns e2e_room_keys_versions and e2e_room_keys.

Versions are numbered per user from 1; a deleted version keeps its row
(flagged) so its number is never reused. The current version is the
highest one not deleted. Each change to a version's keys bumps its etag.
"""

import json
from typing import Any, Optional

from synapse.storage.database import DatabasePool, LoggingTransaction

_VERSION_COLUMNS = ("version", "algorithm", "auth_data", "etag", "deleted")
_KEY_COLUMNS = ("room_id", "session_id", "first_message_index", "forwarded_count", "is_verified", "session_data")


def _key_row(row: tuple) -> tuple[str, str, dict[str, Any]]:
    room_id, session_id, first_message_index, forwarded_count, is_verified, session_data = row
    return (
        room_id,
        session_id,
        {
            "first_message_index": int(first_message_index),
            "forwarded_count": int(forwarded_count),
            "is_verified": bool(is_verified),
            "session_data": json.loads(session_data),
        },
    )


class RoomKeysStore:
    def __init__(self, db: DatabasePool) -> None:
        self.db = db

    # -- versions -----------------------------------------------------------
    async def create_version(self, user_id: str, algorithm: str, auth_data: dict[str, Any]) -> int:
        """Creates the next backup version (it becomes the current one)."""

        def txn_fn(txn: LoggingTransaction) -> int:
            txn.execute("SELECT COALESCE(MAX(version), 0) FROM e2e_room_keys_versions WHERE user_id = ?", (user_id,))
            version = int(txn.fetchone()[0]) + 1  # type: ignore[index]
            txn.execute(
                "INSERT INTO e2e_room_keys_versions (user_id, version, algorithm, auth_data, etag, deleted)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, version, algorithm, json.dumps(auth_data), 0, False),
            )
            return version

        return await self.db.runInteraction("create_room_keys_version", txn_fn)

    async def get_version(self, user_id: str, version: Optional[int] = None) -> Optional[dict[str, Any]]:
        """The version (the current one if None), with `count` of its keys;
        None if it does not exist or was deleted."""

        def txn_fn(txn: LoggingTransaction) -> Optional[dict[str, Any]]:
            return self._get_version_txn(txn, user_id, version)

        return await self.db.runInteraction("get_room_keys_version", txn_fn)

    def _get_version_txn(
        self, txn: LoggingTransaction, user_id: str, version: Optional[int]
    ) -> Optional[dict[str, Any]]:
        cols = ", ".join(_VERSION_COLUMNS)
        if version is None:
            txn.execute(
                f"SELECT {cols} FROM e2e_room_keys_versions WHERE user_id = ? AND deleted = ?"
                " ORDER BY version DESC LIMIT 1",
                (user_id, False),
            )
        else:
            txn.execute(
                f"SELECT {cols} FROM e2e_room_keys_versions WHERE user_id = ? AND version = ?", (user_id, version)
            )
        row = txn.fetchone()
        if row is None or row[4]:
            return None
        txn.execute("SELECT COUNT(*) FROM e2e_room_keys WHERE user_id = ? AND version = ?", (user_id, row[0]))
        count = int(txn.fetchone()[0])  # type: ignore[index]
        return {
            "version": int(row[0]),
            "algorithm": row[1],
            "auth_data": json.loads(row[2]),
            "etag": int(row[3]),
            "count": count,
        }

    async def version_state(self, user_id: str, version: int) -> Optional[bool]:
        """True if the version exists, False if it was deleted, None if it never existed."""
        deleted = await self.db.simple_select_one_onecol(
            "e2e_room_keys_versions",
            {"user_id": user_id, "version": version},
            "deleted",
            allow_none=True,
            desc="room_keys_version_state",
        )
        return None if deleted is None else not deleted

    async def update_version_auth_data(self, user_id: str, version: int, auth_data: dict[str, Any]) -> None:
        await self.db.simple_update(
            "e2e_room_keys_versions",
            {"user_id": user_id, "version": version},
            {"auth_data": json.dumps(auth_data)},
            desc="update_room_keys_version",
        )

    async def delete_version(self, user_id: str, version: int) -> None:
        """Flags the version deleted and drops its keys."""

        def txn_fn(txn: LoggingTransaction) -> None:
            txn.execute(
                "UPDATE e2e_room_keys_versions SET deleted = ? WHERE user_id = ? AND version = ?",
                (True, user_id, version),
            )
            txn.execute("DELETE FROM e2e_room_keys WHERE user_id = ? AND version = ?", (user_id, version))

        await self.db.runInteraction("delete_room_keys_version", txn_fn)

    # -- keys ------------------------------------------------------------------
    async def get_room_keys(
        self, user_id: str, version: int, room_id: Optional[str] = None, session_id: Optional[str] = None
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(room, session, KeyBackupData) rows of the version, optionally of one room/session."""

        def txn_fn(txn: LoggingTransaction) -> list[tuple[str, str, dict[str, Any]]]:
            sql = f"SELECT {', '.join(_KEY_COLUMNS)} FROM e2e_room_keys WHERE user_id = ? AND version = ?"
            args: list[Any] = [user_id, version]
            if room_id is not None:
                sql += " AND room_id = ?"
                args.append(room_id)
            if session_id is not None:
                sql += " AND session_id = ?"
                args.append(session_id)
            txn.execute(sql + " ORDER BY room_id, session_id", args)
            return [_key_row(r) for r in txn.fetchall()]

        return await self.db.runInteraction("get_room_keys", txn_fn, db_autocommit=True)

    async def upsert_room_keys(
        self, user_id: str, version: int, keys: list[tuple[str, str, dict[str, Any]]], should_replace: Any
    ) -> tuple[int, int]:
        """Stores the (room, session, KeyBackupData) keys where
        `should_replace(existing, new)` says so (or no key is stored yet);
        bumps the etag if anything changed. Returns (etag, count)."""

        def txn_fn(txn: LoggingTransaction) -> tuple[int, int]:
            changed = False
            for room_id, session_id, key in keys:
                txn.execute(
                    f"SELECT {', '.join(_KEY_COLUMNS)} FROM e2e_room_keys"
                    " WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?",
                    (user_id, version, room_id, session_id),
                )
                row = txn.fetchone()
                if row is not None and not should_replace(_key_row(row)[2], key):
                    continue
                values = (
                    key["first_message_index"],
                    key["forwarded_count"],
                    key["is_verified"],
                    json.dumps(key["session_data"]),
                )
                txn.execute(
                    "INSERT INTO e2e_room_keys (user_id, version, room_id, session_id, first_message_index,"
                    " forwarded_count, is_verified, session_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET"
                    " first_message_index = excluded.first_message_index,"
                    " forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified,"
                    " session_data = excluded.session_data",
                    (user_id, version, room_id, session_id, *values),
                )
                changed = True
            return self._finish_change_txn(txn, user_id, version, changed)

        return await self.db.runInteraction("upsert_room_keys", txn_fn)

    async def delete_room_keys(
        self, user_id: str, version: int, room_id: Optional[str] = None, session_id: Optional[str] = None
    ) -> tuple[int, int]:
        """Deletes the version's keys (of one room/session if given); returns (etag, count)."""

        def txn_fn(txn: LoggingTransaction) -> tuple[int, int]:
            sql = "DELETE FROM e2e_room_keys WHERE user_id = ? AND version = ?"
            args: list[Any] = [user_id, version]
            if room_id is not None:
                sql += " AND room_id = ?"
                args.append(room_id)
            if session_id is not None:
                sql += " AND session_id = ?"
                args.append(session_id)
            txn.execute(sql, args)
            return self._finish_change_txn(txn, user_id, version, txn.rowcount > 0)

        return await self.db.runInteraction("delete_room_keys", txn_fn)

    def _finish_change_txn(self, txn: LoggingTransaction, user_id: str, version: int, changed: bool) -> tuple[int, int]:
        if changed:
            txn.execute(
                "UPDATE e2e_room_keys_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?",
                (user_id, version),
            )
        info = self._get_version_txn(txn, user_id, version)
        assert info is not None
        return info["etag"], info["count"]
