"""The user_filters table: filters uploaded by clients, numbered per user.

Ids are small integers allocated per user. Uploading a filter identical to
one the user already has returns the existing id, so clients that upload
their filter on every start do not grow the table.
"""

import json
from typing import Any, Optional

from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.util.json import encode_canonical_json

JsonDict = dict[str, Any]


class FilteringStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_user_filter(self, user_id: str, filter_id: int) -> Optional[JsonDict]:
        """The filter JSON, or None if the user has no filter with that id."""
        text = await self._db.simple_select_one_onecol(
            "user_filters",
            {"user_id": user_id, "filter_id": filter_id},
            "filter_json",
            allow_none=True,
            desc="get_user_filter",
        )
        return None if text is None else json.loads(text)

    async def add_user_filter(self, user_id: str, filter_json: JsonDict) -> int:
        """Stores the filter (or finds the identical one) and returns its id."""
        text = encode_canonical_json(filter_json).decode("utf-8")
        return await self._db.runInteraction("add_user_filter", self._add_user_filter_txn, user_id, text)

    @staticmethod
    def _add_user_filter_txn(txn: LoggingTransaction, user_id: str, text: str) -> int:
        txn.execute("SELECT filter_id FROM user_filters WHERE user_id = ? AND filter_json = ?", (user_id, text))
        row = txn.fetchone()
        if row is not None:
            return int(row[0])
        txn.execute("SELECT COALESCE(MAX(filter_id), -1) FROM user_filters WHERE user_id = ?", (user_id,))
        (max_id,) = txn.fetchone()  # type: ignore[misc]
        filter_id = int(max_id) + 1
        # A concurrent upload by the same user may take this id first: the
        # primary key then fails the transaction and the client retries.
        txn.execute(
            "INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES (?, ?, ?)",
            (user_id, filter_id, text),
        )
        return filter_id
