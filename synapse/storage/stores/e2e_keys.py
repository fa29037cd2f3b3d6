"""End-to-end encryption keys: owns the e2e_* tables of 60_e2ee_keys.sql.

- device identity keys (`e2e_device_keys_json`), one per device;
- one-time keys (`e2e_one_time_keys_json`): a claim deletes the row it hands
  out inside its transaction, and re-selects when a concurrent claim deleted
  it first, so a key is never handed out twice;
- fallback keys (`e2e_fallback_keys_json`): one per device and algorithm,
  handed out when the one-time keys run dry and then marked used;
- cross-signing keys and the signatures users upload on keys.

What /keys/query shows for a user (device keys, cross-signing keys,
signatures) is written by the device_lists stream
(synapse/streams/device_lists.py) together with the change it records; it
also deletes a deleted device's keys.
"""

import json
from typing import Any, Iterable, Optional

from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.util.clock import Clock


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class E2eKeysStore:
    def __init__(self, db: DatabasePool, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # -- device keys ----------------------------------------------------------
    async def get_device_keys(self, query: list[tuple[str, Optional[str]]]) -> dict[str, dict[str, dict[str, Any]]]:
        """user -> device -> {"keys": DeviceKeys, "display_name"} for each
        (user, device) asked (device None: all the user's devices). Only
        devices that still exist are returned."""

        def txn_fn(txn: LoggingTransaction) -> dict[str, dict[str, dict[str, Any]]]:
            result: dict[str, dict[str, dict[str, Any]]] = {}
            for user_id, device_id in query:
                sql = (
                    "SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys_json AS k"
                    " JOIN devices AS d ON d.user_id = k.user_id AND d.device_id = k.device_id"
                    " WHERE k.user_id = ?"
                )
                args: list[Any] = [user_id]
                if device_id is not None:
                    sql += " AND k.device_id = ?"
                    args.append(device_id)
                txn.execute(sql, args)
                for dev_id, key_json, display_name in txn.fetchall():
                    result.setdefault(user_id, {})[dev_id] = {
                        "keys": json.loads(key_json),
                        "display_name": display_name,
                    }
            return result

        return await self.db.runInteraction("get_device_keys", txn_fn)

    # -- one-time and fallback keys ---------------------------------------------
    async def get_one_time_keys(
        self, user_id: str, device_id: str, key_ids: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Any]:
        """(algorithm, key id) -> stored key, for those of `key_ids` that exist."""
        wanted = set(key_ids)
        rows = await self.db.simple_select_list(
            "e2e_one_time_keys_json",
            {"user_id": user_id, "device_id": device_id},
            ("algorithm", "key_id", "key_json"),
            desc="get_one_time_keys",
        )
        return {
            (r["algorithm"], r["key_id"]): json.loads(r["key_json"])
            for r in rows
            if (r["algorithm"], r["key_id"]) in wanted
        }

    async def add_one_time_keys(self, user_id: str, device_id: str, keys: list[tuple[str, str, Any]]) -> None:
        """Adds (algorithm, key id, key) rows; ids already stored are skipped."""
        now = self.clock.time_msec()

        def txn_fn(txn: LoggingTransaction) -> None:
            txn.executemany(
                "INSERT INTO e2e_one_time_keys_json (user_id, device_id, algorithm, key_id, ts_added_ms, key_json)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(user_id, device_id, alg, key_id, now, _dumps(key)) for alg, key_id, key in keys],
            )

        await self.db.runInteraction("add_one_time_keys", txn_fn)

    async def count_one_time_keys(self, user_id: str, device_id: str) -> dict[str, int]:
        """Algorithm -> number of unclaimed one-time keys (for /sync's
        device_one_time_keys_count and /keys/upload); algorithms with none
        are absent."""

        def txn_fn(txn: LoggingTransaction) -> dict[str, int]:
            txn.execute(
                "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys_json WHERE user_id = ? AND device_id = ?"
                " GROUP BY algorithm",
                (user_id, device_id),
            )
            return {alg: int(count) for alg, count in txn}

        return await self.db.runInteraction("count_one_time_keys", txn_fn, db_autocommit=True)

    async def set_fallback_keys(self, user_id: str, device_id: str, keys: list[tuple[str, str, Any]]) -> None:
        """Replaces the fallback key of each algorithm given. Re-uploading the
        stored key itself keeps its `used` flag."""

        def txn_fn(txn: LoggingTransaction) -> None:
            for alg, key_id, key in keys:
                key_json = _dumps(key)
                txn.execute(
                    "INSERT INTO e2e_fallback_keys_json (user_id, device_id, algorithm, key_id, key_json, used)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET"
                    " key_id = excluded.key_id, key_json = excluded.key_json,"
                    " used = CASE WHEN e2e_fallback_keys_json.key_id = excluded.key_id"
                    " AND e2e_fallback_keys_json.key_json = excluded.key_json"
                    " THEN e2e_fallback_keys_json.used ELSE excluded.used END",
                    (user_id, device_id, alg, key_id, key_json, False),
                )

        await self.db.runInteraction("set_fallback_keys", txn_fn)

    async def get_sync_key_summary(self, user_id: str, device_id: str) -> tuple[dict[str, int], list[str]]:
        """What /sync tells a device about its keys, in one transaction: the
        one-time key counts and the unused fallback key types."""

        def txn_fn(txn: LoggingTransaction) -> tuple[dict[str, int], list[str]]:
            txn.execute(
                "SELECT algorithm, COUNT(*) FROM e2e_one_time_keys_json WHERE user_id = ? AND device_id = ?"
                " GROUP BY algorithm",
                (user_id, device_id),
            )
            counts = {alg: int(count) for alg, count in txn}
            txn.execute(
                "SELECT algorithm FROM e2e_fallback_keys_json WHERE user_id = ? AND device_id = ? AND used = ?"
                " ORDER BY algorithm",
                (user_id, device_id, False),
            )
            return counts, [row[0] for row in txn]

        return await self.db.runInteraction("get_sync_key_summary", txn_fn)

    async def claim_keys(self, query: list[tuple[str, str, str]]) -> dict[tuple[str, str], tuple[str, str, Any]]:
        """For each (user, device, algorithm): the oldest one-time key,
        deleted as it is taken, else the fallback key (marked used).
        Returns (user, device) -> (algorithm, key id, key) for those found.

        Each DELETE must remove the row this transaction selected: when a
        concurrent claim removed it first, the next key is selected."""

        def claim_one(txn: LoggingTransaction, user_id: str, device_id: str, alg: str) -> Optional[tuple[str, Any]]:
            while True:
                txn.execute(
                    "SELECT key_id, key_json FROM e2e_one_time_keys_json"
                    " WHERE user_id = ? AND device_id = ? AND algorithm = ? ORDER BY ts_added_ms, key_id LIMIT 1",
                    (user_id, device_id, alg),
                )
                row = txn.fetchone()
                if row is None:
                    break
                key_id, key_json = row
                txn.execute(
                    "DELETE FROM e2e_one_time_keys_json"
                    " WHERE user_id = ? AND device_id = ? AND algorithm = ? AND key_id = ?",
                    (user_id, device_id, alg, key_id),
                )
                if txn.rowcount == 1:
                    return key_id, json.loads(key_json)
            txn.execute(
                "SELECT key_id, key_json FROM e2e_fallback_keys_json"
                " WHERE user_id = ? AND device_id = ? AND algorithm = ?",
                (user_id, device_id, alg),
            )
            row = txn.fetchone()
            if row is None:
                return None
            txn.execute(
                "UPDATE e2e_fallback_keys_json SET used = ? WHERE user_id = ? AND device_id = ? AND algorithm = ?",
                (True, user_id, device_id, alg),
            )
            return row[0], json.loads(row[1])

        def txn_fn(txn: LoggingTransaction) -> dict[tuple[str, str], tuple[str, str, Any]]:
            claimed: dict[tuple[str, str], tuple[str, str, Any]] = {}
            for user_id, device_id, alg in query:
                found = claim_one(txn, user_id, device_id, alg)
                if found is not None:
                    claimed[(user_id, device_id)] = (alg, found[0], found[1])
            return claimed

        return await self.db.runInteraction("claim_keys", txn_fn)

    # -- cross-signing keys -------------------------------------------------------
    async def get_cross_signing_keys(self, user_ids: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """user -> keytype -> key, for the users that have any."""
        rows = await self.db.simple_select_many(
            "e2e_cross_signing_keys",
            "user_id",
            user_ids,
            ("user_id", "keytype", "key_json"),
            desc="get_cross_signing_keys",
        )
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for row in rows:
            result.setdefault(row["user_id"], {})[row["keytype"]] = json.loads(row["key_json"])
        return result

    # -- signatures ------------------------------------------------------------
    async def get_signatures(self, target_user_ids: Iterable[str]) -> list[dict[str, str]]:
        """Every uploaded signature on keys of the given users: dicts with
        user_id (signer), key_id, target_user_id, target_device_id, signature."""
        return await self.db.simple_select_many(
            "e2e_cross_signing_signatures",
            "target_user_id",
            target_user_ids,
            ("user_id", "key_id", "target_user_id", "target_device_id", "signature"),
            desc="get_signatures",
        )
