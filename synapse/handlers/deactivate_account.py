"""Account deactivation: the user can never log in again and leaves every room.

The user row stays (user ids are never reused); the password, tokens and
devices go. With `erase` the profile is cleared too.
"""

import logging
from typing import TYPE_CHECKING

from synapse.api.auth import requester_for_user
from synapse.api.errors import SynapseError

if TYPE_CHECKING:
    from synapse.server import HomeServer

logger = logging.getLogger(__name__)


class DeactivateAccountHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def deactivate_account(self, user_id: str, erase: bool = False) -> None:
        stores = self._hs.stores
        await stores.registration.set_deactivated(user_id, True)
        await stores.registration.set_password_hash(user_id, None)
        await self._hs.device_handler.delete_all_devices_for_user(user_id)
        await self._hs.auth_handler.delete_access_tokens_for_user(user_id)
        if erase:
            await stores.profile.set_displayname(user_id, None)
            await stores.profile.set_avatar_url(user_id, None)
        await self._leave_all_rooms(user_id)

    async def _leave_all_rooms(self, user_id: str) -> None:
        requester = requester_for_user(user_id)
        rooms = await self._hs.stores.members.get_rooms_for_user(user_id, memberships=("join", "invite", "knock"))
        for room in rooms:
            try:
                await self._hs.room_member_handler.update_membership(
                    requester, user_id, room.room_id, "leave", ratelimit=False
                )
            except SynapseError as e:
                logger.warning("Deactivated user %s could not leave %s: %s", user_id, room.room_id, e)
