"""The user directory tables (schema 80): searchable profiles, room members
as the directory updater last saw them, public rooms, and the updater's
position on the events stream.

Writes come only from the directory updater (one process); searches run
anywhere. Matching is by word prefix on a casefolded, word-split copy of
each user's display name and user id (`search_text`), with LIKE patterns
that behave the same on SQLite and PostgreSQL.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

import attrs

from synapse.storage.database import DatabasePool

# state events that change who is in a room or whether the room is public
DIRECTORY_STATE_TYPES = ("m.room.member", "m.room.join_rules", "m.room.history_visibility")

_WORD_RE = re.compile(r"\w+")
_LIKE_ESCAPE = "!"


def search_words(text: str) -> list[str]:
    """The casefolded words of `text` (letters, digits, underscore)."""
    return _WORD_RE.findall(text.casefold())


def search_text(user_id: str, display_name: Optional[str]) -> str:
    """The indexed form of a user: display name words, then user id words,
    each preceded by a space, with a trailing space."""
    words = search_words(display_name or "") + search_words(user_id)
    return " " + " ".join(words) + " "


def _escape_like(value: str) -> str:
    return value.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2).replace("%", "!%").replace("_", "!_")


@attrs.frozen
class DirectoryEntry:
    user_id: str
    display_name: Optional[str]
    avatar_url: Optional[str]


@attrs.frozen
class LocalUserChanges:
    """Local users whose directory entry is missing or out of date, and
    entries of local users that must go (deactivated or support users)."""

    upserts: list[DirectoryEntry]
    removals: list[str]


class UserDirectoryStore:
    def __init__(self, db: DatabasePool) -> None:
        self.db = db

    # -- updater position ----------------------------------------------------
    async def get_position(self) -> Optional[int]:
        """The events stream position the directory reflects; None before
        the first population."""
        return await self.db.simple_select_one_onecol(
            "user_directory_position", {"stream_name": "events"}, "position", allow_none=True
        )

    async def set_position(self, position: int) -> None:
        await self.db.simple_upsert(
            "user_directory_position", {"stream_name": "events"}, {"position": position}, desc="set_position"
        )

    # -- reading what changed ------------------------------------------------
    async def get_rooms_with_directory_changes(self, from_pos: int, to_pos: int) -> list[str]:
        """Rooms with member, join rule or history visibility events in
        (from_pos, to_pos] of the events stream (the events table belongs
        to the events area; this only reads it)."""

        def txn_fn(txn: Any) -> list[str]:
            txn.execute(
                "SELECT DISTINCT room_id FROM events"
                " WHERE stream_ordering > ? AND stream_ordering <= ? AND state_key IS NOT NULL"
                " AND type IN (?, ?, ?) ORDER BY room_id",
                (from_pos, to_pos, *DIRECTORY_STATE_TYPES),
            )
            return [r[0] for r in txn.fetchall()]

        return await self.db.runInteraction("get_rooms_with_directory_changes", txn_fn)

    async def get_local_user_changes(self, limit: int) -> LocalUserChanges:
        """Compares local accounts and their global profiles (accounts area
        tables, read only) with the directory."""

        def txn_fn(txn: Any) -> LocalUserChanges:
            txn.execute(
                "SELECT u.name, p.displayname, p.avatar_url FROM users AS u"
                " LEFT JOIN profiles AS p ON p.user_id = u.name"
                " LEFT JOIN user_directory AS d ON d.user_id = u.name"
                " WHERE u.deactivated = ? AND COALESCE(u.user_type, '') <> 'support'"
                " AND (d.user_id IS NULL OR COALESCE(d.display_name, '') <> COALESCE(p.displayname, '')"
                " OR COALESCE(d.avatar_url, '') <> COALESCE(p.avatar_url, ''))"
                " ORDER BY u.name LIMIT ?",
                (False, limit),
            )
            upserts = [DirectoryEntry(r[0], r[1], r[2]) for r in txn.fetchall()]
            txn.execute(
                "SELECT d.user_id FROM user_directory AS d JOIN users AS u ON u.name = d.user_id"
                " WHERE u.deactivated = ? OR COALESCE(u.user_type, '') = 'support' ORDER BY d.user_id LIMIT ?",
                (True, limit),
            )
            return LocalUserChanges(upserts, [r[0] for r in txn.fetchall()])

        return await self.db.runInteraction("get_local_user_changes", txn_fn)

    # -- writing (the updater only) --------------------------------------------
    async def upsert_entries(self, entries: Iterable[DirectoryEntry]) -> None:
        entries = list(entries)
        if not entries:
            return

        def txn_fn(txn: Any) -> None:
            for entry in entries:
                _upsert_entry_txn(txn, entry)

        await self.db.runInteraction("upsert_directory_entries", txn_fn)

    async def remove_entries(self, user_ids: Iterable[str]) -> None:
        user_ids = list(user_ids)
        if not user_ids:
            return

        def txn_fn(txn: Any) -> None:
            txn.executemany("DELETE FROM user_directory WHERE user_id = ?", [(u,) for u in user_ids])

        await self.db.runInteraction("remove_directory_entries", txn_fn)

    async def update_room(
        self, room_id: str, is_public: bool, members: Mapping[str, DirectoryEntry], local_server: str
    ) -> None:
        """Records the room's joined members and publicness. Remote members
        get an entry from their member event; remote users who are now in
        no room lose theirs (local users' entries follow their accounts)."""

        def is_remote(user_id: str) -> bool:
            return user_id.rsplit(":", 1)[-1] != local_server

        def txn_fn(txn: Any) -> None:
            txn.execute("SELECT user_id FROM user_directory_room_members WHERE room_id = ?", (room_id,))
            before = {r[0] for r in txn.fetchall()}
            gone = before - members.keys()
            txn.executemany(
                "DELETE FROM user_directory_room_members WHERE room_id = ? AND user_id = ?",
                [(room_id, u) for u in sorted(gone)],
            )
            txn.executemany(
                "INSERT INTO user_directory_room_members (room_id, user_id) VALUES (?, ?)",
                [(room_id, u) for u in sorted(members.keys() - before)],
            )
            if is_public:
                txn.execute(
                    "INSERT INTO user_directory_public_rooms (room_id) VALUES (?) ON CONFLICT (room_id) DO NOTHING",
                    (room_id,),
                )
            else:
                txn.execute("DELETE FROM user_directory_public_rooms WHERE room_id = ?", (room_id,))
            for user_id, entry in members.items():
                if is_remote(user_id):
                    _upsert_entry_txn(txn, entry)
            for user_id in sorted(gone):
                if not is_remote(user_id):
                    continue
                txn.execute("SELECT 1 FROM user_directory_room_members WHERE user_id = ? LIMIT 1", (user_id,))
                if txn.fetchone() is None:
                    txn.execute("DELETE FROM user_directory WHERE user_id = ?", (user_id,))

        await self.db.runInteraction("update_directory_room", txn_fn)

    # -- searching -------------------------------------------------------------
    async def search(
        self,
        searcher: str,
        term: str,
        limit: int,
        search_all_users: bool,
        prefer_local_server: Optional[str],
    ) -> tuple[list[DirectoryEntry], bool]:
        """Entries matching every word of `term` by word prefix, best first,
        and whether more than `limit` matched.

        Visible are: with `search_all_users`, everyone but the searcher;
        otherwise users joined to a public room or sharing a room with the
        searcher. Ranking: the whole term matching whole words, then (with
        `prefer_local_server`) local users, then users sharing a room with
        the searcher, then entries with a display name, then with an avatar."""
        words = search_words(term)
        if not words:
            return [], False

        shares_room = (
            "EXISTS (SELECT 1 FROM user_directory_room_members AS m"
            " JOIN user_directory_room_members AS mine ON mine.room_id = m.room_id"
            " WHERE m.user_id = d.user_id AND mine.user_id = ?)"
        )
        where = ["d.search_text LIKE ? ESCAPE '!'"] * len(words)
        args: list[Any] = ["% " + _escape_like(w) + "%" for w in words]
        if search_all_users:
            where.append("d.user_id <> ?")
        else:
            where.append(
                "(EXISTS (SELECT 1 FROM user_directory_room_members AS pm"
                " JOIN user_directory_public_rooms AS pr ON pr.room_id = pm.room_id"
                f" WHERE pm.user_id = d.user_id) OR {shares_room})"
            )
        args.append(searcher)
        order = ["CASE WHEN d.search_text LIKE ? ESCAPE '!' THEN 1 ELSE 0 END DESC"]
        args.append("% " + _escape_like(" ".join(words)) + " %")
        if prefer_local_server is not None:
            order.append("CASE WHEN d.user_id LIKE ? ESCAPE '!' THEN 1 ELSE 0 END DESC")
            args.append("%:" + _escape_like(prefer_local_server))
        order += [
            f"CASE WHEN {shares_room} THEN 1 ELSE 0 END DESC",
            "CASE WHEN d.display_name IS NULL THEN 0 ELSE 1 END DESC",
            "CASE WHEN d.avatar_url IS NULL THEN 0 ELSE 1 END DESC",
            "d.user_id",
        ]
        args += [searcher, limit + 1]
        sql = (
            "SELECT d.user_id, d.display_name, d.avatar_url FROM user_directory AS d"
            f" WHERE {' AND '.join(where)} ORDER BY {', '.join(order)} LIMIT ?"
        )

        def txn_fn(txn: Any) -> list[tuple]:
            txn.execute(sql, args)
            return txn.fetchall()

        rows = await self.db.runInteraction("search_user_directory", txn_fn)
        entries = [DirectoryEntry(r[0], r[1], r[2]) for r in rows[:limit]]
        return entries, len(rows) > limit


def _upsert_entry_txn(txn: Any, entry: DirectoryEntry) -> None:
    txn.execute(
        "INSERT INTO user_directory (user_id, display_name, avatar_url, search_text) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name,"
        " avatar_url = excluded.avatar_url, search_text = excluded.search_text",
        (entry.user_id, entry.display_name, entry.avatar_url, search_text(entry.user_id, entry.display_name)),
    )
