"""The user directory: searching it, and the updater that keeps it current.

Searching (`search`) runs on any process and only reads the directory
tables. The updater (`run_updater`) runs in exactly one process, the one
`config.worker.should_update_user_directory` names; server.py schedules it.
Each run:

- brings local users up to date from their accounts and global profiles
  (registrations, profile changes, deactivations), so a local user is
  findable even before joining a room;
- reads the events stream from its saved position and, for every room
  with member, join rule or history visibility events in that range,
  records the room's current joined members and whether it is public.
  Remote users' entries come from their member events (profile changes
  arrive as new join events). A room no local user is joined to any more
  counts as empty: this server no longer sees who is in it.

With no saved position the stream is read from the start, which populates
the directory from the existing rooms; the position is saved after each
batch, so a restart resumes where the last run stopped.
"""

import logging
from typing import TYPE_CHECKING, Any

from synapse.storage.stores.user_directory import DirectoryEntry

if TYPE_CHECKING:
    from synapse.server import HomeServer

logger = logging.getLogger(__name__)

# how often the updater runs (seconds)
UPDATE_INTERVAL_S = 1.0
# events stream positions read per batch (the position is saved after each)
STREAM_BATCH = 1000
# local users compared per query
ACCOUNTS_BATCH = 500
# the most results one search returns, whatever the client asks
MAX_LIMIT = 50


class UserDirectoryHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._config = hs.config.userdirectory
        self._server_name = hs.hostname

    @property
    def _store(self) -> Any:
        return self._hs.stores.user_directory

    # -- searching -----------------------------------------------------------
    async def search(self, searcher: str, term: str, limit: int) -> dict[str, Any]:
        """The search response for `searcher`: at most `limit` (capped at
        MAX_LIMIT) results; nothing when the directory is disabled."""
        limit = max(0, min(limit, MAX_LIMIT))
        if not self._config.enabled:
            return {"results": [], "limited": False}
        prefer_local = self._server_name if self._config.prefer_local_users else None
        entries, limited = await self._store.search(searcher, term, limit, self._config.search_all_users, prefer_local)
        return {"results": [_result(entry) for entry in entries], "limited": limited}

    # -- the updater ---------------------------------------------------------
    async def run_updater(self) -> None:
        """One updater run (see the module docstring); failures are logged
        and retried on the next run."""
        try:
            await self._update_local_users()
            await self._update_rooms()
        except Exception:
            logger.exception("Updating the user directory failed; retrying on the next run")

    async def _update_local_users(self) -> None:
        while True:
            changes = await self._store.get_local_user_changes(ACCOUNTS_BATCH)
            await self._store.upsert_entries(changes.upserts)
            await self._store.remove_entries(changes.removals)
            if len(changes.upserts) < ACCOUNTS_BATCH and len(changes.removals) < ACCOUNTS_BATCH:
                return

    async def _update_rooms(self) -> None:
        position = await self._store.get_position()
        if position is None:
            logger.info("Populating the user directory from existing rooms")
            position = 0
            await self._store.set_position(position)
        current = self._hs.id_generators["events"].get_current_token()
        while position < current:
            upto = min(current, position + STREAM_BATCH)
            for room_id in await self._store.get_rooms_with_directory_changes(position, upto):
                await self._update_room(room_id)
            await self._store.set_position(upto)
            position = upto

    async def _update_room(self, room_id: str) -> None:
        members = await self._hs.stores.members.get_joined_members(room_id)
        if not any(self._is_local(user_id) for user_id in members):
            # the server has left: its view of the remaining members is stale
            members = {}
        entries = {
            user_id: DirectoryEntry(
                user_id, _string_or_none(p.get("display_name")), _string_or_none(p.get("avatar_url"))
            )
            for user_id, p in members.items()
        }
        await self._store.update_room(room_id, await self._is_public(room_id), entries, self._server_name)

    def _is_local(self, user_id: str) -> bool:
        return user_id.rsplit(":", 1)[-1] == self._server_name

    async def _is_public(self, room_id: str) -> bool:
        """Anyone may find a room's members if it is publicly joinable or
        world readable (the spec's minimum visibility)."""
        state = self._hs.stores.state
        join_rules = await state.get_current_state_event(room_id, "m.room.join_rules", "")
        if join_rules is not None and join_rules.content.get("join_rule") == "public":
            return True
        visibility = await state.get_current_state_event(room_id, "m.room.history_visibility", "")
        return visibility is not None and visibility.content.get("history_visibility") == "world_readable"


def _string_or_none(value: Any) -> Any:
    return value if isinstance(value, str) and value else None


def _result(entry: DirectoryEntry) -> dict[str, str]:
    """One result as the spec shapes it: unset profile fields are omitted."""
    result = {"user_id": entry.user_id}
    if entry.display_name:
        result["display_name"] = entry.display_name
    if entry.avatar_url:
        result["avatar_url"] = entry.avatar_url
    return result
