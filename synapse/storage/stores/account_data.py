"""Reads of account data (global and per room); writes are the account_data
stream's (synapse/streams/account_data.py)."""

import json
from typing import Any, Optional

from synapse.storage.database import DatabasePool

JsonDict = dict[str, Any]
GLOBAL = ""  # room_id of global account data


class AccountDataStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_account_data(self, user_id: str, data_type: str, room_id: str = GLOBAL) -> Optional[JsonDict]:
        content = await self._db.simple_select_one_onecol(
            "account_data",
            {"user_id": user_id, "room_id": room_id, "account_data_type": data_type},
            "content",
            allow_none=True,
            desc="get_account_data",
        )
        return None if content is None else json.loads(content)

    async def get_changes_for_user(
        self, user_id: str, from_pos: int, to_pos: int
    ) -> tuple[dict[str, JsonDict], dict[str, dict[str, JsonDict]]]:
        """Account data written in (from_pos, to_pos]: (global by type, per room by type)."""

        def txn(txn: Any) -> list[tuple[str, str, str]]:
            txn.execute(
                "SELECT room_id, account_data_type, content FROM account_data"
                " WHERE user_id = ? AND stream_id > ? AND stream_id <= ?",
                (user_id, from_pos, to_pos),
            )
            return txn.fetchall()

        global_data: dict[str, JsonDict] = {}
        room_data: dict[str, dict[str, JsonDict]] = {}
        for room_id, data_type, content in await self._db.runInteraction(
            "account_data_changes", txn, db_autocommit=True
        ):
            target = global_data if room_id == GLOBAL else room_data.setdefault(room_id, {})
            target[data_type] = json.loads(content)
        return global_data, room_data

    async def get_users_changed_between(self, from_pos: int, to_pos: int) -> list[str]:
        def txn(txn: Any) -> list[str]:
            txn.execute(
                "SELECT DISTINCT user_id FROM account_data WHERE stream_id > ? AND stream_id <= ?", (from_pos, to_pos)
            )
            return [row[0] for row in txn.fetchall()]

        return await self._db.runInteraction("account_data_users_changed", txn, db_autocommit=True)
