"""Profiles: display name and avatar URL of local users.

A change is copied into every room the user has joined by a new
m.room.member join event carrying the new profile, as Synapse does.
"""

import logging
from typing import TYPE_CHECKING, Any, Optional

from synapse.api.errors import AuthError, Codes, NotFoundError, SynapseError
from synapse.types import Requester, UserID

if TYPE_CHECKING:
    from synapse.server import HomeServer

logger = logging.getLogger(__name__)

MAX_DISPLAYNAME_LEN = 256
MAX_AVATAR_URL_LEN = 1000
PROFILE_FIELDS = ("displayname", "avatar_url")


class ProfileHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    @property
    def _store(self) -> Any:
        return self._hs.stores.profile

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        """The profile as the client API shows it (absent fields omitted); 404 if unknown."""
        user = UserID.from_string(user_id)
        profile = None
        if user.domain == self._hs.hostname:
            profile = await self._store.get_profile(user_id)
        if profile is None:
            raise NotFoundError("Profile was not found")
        return {k: v for k, v in profile.items() if v is not None}

    async def get_profile_field(self, user_id: str, field: str) -> Optional[str]:
        return (await self.get_profile(user_id)).get(field)

    async def set_profile_field(
        self, requester: Requester, user_id: str, field: str, value: Any, *, by_admin: bool = False
    ) -> None:
        """Sets displayname or avatar_url ("" or None clears it) and tells the user's rooms."""
        assert field in PROFILE_FIELDS
        target = UserID.from_string(user_id)
        if target.domain != self._hs.hostname:
            raise SynapseError(400, "User is not hosted on this homeserver", Codes.FORBIDDEN)
        if not by_admin and requester.user_id != user_id:
            raise AuthError(403, f"Cannot set another user's {field}")
        if value is not None and not isinstance(value, str):
            raise SynapseError(400, f"'{field}' must be a string", Codes.INVALID_PARAM)
        limit = MAX_DISPLAYNAME_LEN if field == "displayname" else MAX_AVATAR_URL_LEN
        if value is not None and len(value) > limit:
            raise SynapseError(400, f"'{field}' is too long (max {limit})", Codes.INVALID_PARAM)
        if await self._store.get_profile(user_id) is None:
            raise NotFoundError("Profile was not found")
        user = await self._hs.stores.registration.get_user(user_id)
        if user is not None and user["deactivated"] and not by_admin:
            raise SynapseError(400, f"Cannot change the {field} of a deactivated user", Codes.FORBIDDEN)
        new_value = value or None
        if field == "displayname":
            await self._store.set_displayname(user_id, new_value)
        else:
            await self._store.set_avatar_url(user_id, new_value)
        await self._update_join_states(requester, user_id)

    async def _update_join_states(self, requester: Requester, user_id: str) -> None:
        """Sends a join event with the new profile into every room the user is in."""
        profile = await self._store.get_profile(user_id) or {}
        content = {"membership": "join"}
        content.update({k: v for k, v in profile.items() if v is not None})
        rooms = await self._hs.stores.members.get_rooms_for_user(user_id)
        for room in rooms:
            try:
                await self._hs.room_member_handler.update_membership(
                    requester, user_id, room.room_id, "join", content=content, ratelimit=False
                )
            except SynapseError as e:
                # one room refusing the update (e.g. power levels) must not fail the others
                logger.warning("Failed to update profile of %s in %s: %s", user_id, room.room_id, e)
