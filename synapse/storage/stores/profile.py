"""Profiles of local users: display name and avatar URL (`profiles` table)
and custom fields such as m.tz (`profile_fields`, JSON values).

A profile row is created with the user at registration, so "no row" means
"no such local user".
"""

import json
from typing import Any, Optional

from synapse.storage.database import DatabasePool


class ProfileStore:
    def __init__(self, db: DatabasePool) -> None:
        self.db = db

    async def get_profile(self, user_id: str) -> Optional[dict[str, Optional[str]]]:
        """{"displayname", "avatar_url"} (values may be None), or None if no such local user."""

        def txn_fn(txn: Any) -> Optional[dict[str, Optional[str]]]:
            txn.execute("SELECT displayname, avatar_url FROM profiles WHERE user_id = ?", (user_id,))
            row = txn.fetchone()
            if row is None:
                return None
            return {"displayname": row[0], "avatar_url": row[1]}

        return await self.db.runInteraction("get_profile", txn_fn)

    async def set_displayname(self, user_id: str, displayname: Optional[str]) -> None:
        await self._set_field("displayname", user_id, displayname)

    async def set_avatar_url(self, user_id: str, avatar_url: Optional[str]) -> None:
        await self._set_field("avatar_url", user_id, avatar_url)

    async def _set_field(self, column: str, user_id: str, value: Optional[str]) -> None:
        assert column in ("displayname", "avatar_url")

        def txn_fn(txn: Any) -> None:
            txn.execute(f"UPDATE profiles SET {column} = ? WHERE user_id = ?", (value, user_id))

        await self.db.runInteraction(f"set_profile_{column}", txn_fn)

    async def get_custom_fields(self, user_id: str) -> dict[str, Any]:
        """The user's fields other than displayname and avatar_url."""

        def txn_fn(txn: Any) -> dict[str, Any]:
            txn.execute("SELECT field_name, value FROM profile_fields WHERE user_id = ?", (user_id,))
            return {name: json.loads(value) for name, value in txn.fetchall()}

        return await self.db.runInteraction("get_custom_profile_fields", txn_fn)

    async def set_custom_field(self, user_id: str, field_name: str, value: Any) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute(
                "INSERT INTO profile_fields (user_id, field_name, value) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, field_name) DO UPDATE SET value = excluded.value",
                (user_id, field_name, json.dumps(value)),
            )

        await self.db.runInteraction("set_custom_profile_field", txn_fn)

    async def delete_custom_field(self, user_id: str, field_name: str) -> None:
        def txn_fn(txn: Any) -> None:
            txn.execute("DELETE FROM profile_fields WHERE user_id = ? AND field_name = ?", (user_id, field_name))

        await self.db.runInteraction("delete_custom_profile_field", txn_fn)
