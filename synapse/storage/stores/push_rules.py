"""Reads of push rules (one JSON document per user who changed any, see
schema 97) and of the membership rows push evaluation needs; writes are the
push_rules stream's (synapse/streams/push_rules.py)."""

import json
from typing import Any, Collection, Optional

from synapse.storage.database import DatabasePool

JsonDict = dict[str, Any]


class PushRulesStore:
    def __init__(self, db: DatabasePool) -> None:
        self._db = db

    async def get_document(self, user_id: str) -> Optional[JsonDict]:
        """The user's stored push rule changes; None when they have none."""
        docs = await self.get_documents([user_id])
        return docs.get(user_id)

    async def get_documents(self, user_ids: Collection[str]) -> dict[str, JsonDict]:
        """Stored documents of the users that have one (batched)."""

        rows = await self._db.simple_select_many(
            "push_rules", "user_id", user_ids, ("user_id", "rules"), desc="get_push_rule_documents"
        )
        return {row["user_id"]: json.loads(row["rules"]) for row in rows}

    async def get_stream_id(self, user_id: str) -> int:
        """Position of the user's latest push rule change (0: never changed)."""
        pos = await self._db.simple_select_one_onecol(
            "push_rules", {"user_id": user_id}, "stream_id", allow_none=True, desc="push_rules_stream_id"
        )
        return int(pos or 0)

    async def get_users_changed_between(self, from_pos: int, to_pos: int) -> list[str]:
        def txn(txn: Any) -> list[str]:
            txn.execute("SELECT user_id FROM push_rules WHERE stream_id > ? AND stream_id <= ?", (from_pos, to_pos))
            return [row[0] for row in txn.fetchall()]

        return await self._db.runInteraction("push_rules_users_changed", txn)

    async def get_member_rows(self, event_ids: Collection[str]) -> dict[str, tuple[str, str, Optional[str]]]:
        """member event id -> (user id, membership, display name), batched:
        what evaluation needs of a room's member events, without loading them."""

        rows = await self._db.simple_select_many(
            "room_memberships",
            "event_id",
            event_ids,
            ("event_id", "user_id", "membership", "display_name"),
            desc="get_member_rows",
        )
        return {r["event_id"]: (r["user_id"], r["membership"], r["display_name"]) for r in rows}

    async def get_relation(self, event_id: str) -> Optional[tuple[str, str]]:
        """(rel_type, parent event id) of a stored event's relation."""
        row = await self._db.simple_select_one(
            "event_relations",
            {"event_id": event_id},
            ("relation_type", "relates_to_id"),
            allow_none=True,
            desc="push_get_relation",
        )
        return None if row is None else (row["relation_type"], row["relates_to_id"])
