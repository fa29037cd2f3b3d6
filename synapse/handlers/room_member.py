"""RoomMemberHandler: join, invite, leave, kick, ban, unban, knock and forget.

Each action becomes one m.room.member event sent through the event
creation handler; whether it is allowed is decided by the room's
authorization rules (join rules, power levels, bans), not here. This module
adds what the rules leave to the server: rate limits, the member's profile
on join, the checks that make kick/unban mean what their names say, and
forgetting rooms.
"""

from typing import Any, Optional

from synapse.api.errors import AuthError, Codes, SynapseError
from synapse.api.ratelimiting import ratelimiter_from_settings
from synapse.events.model import JsonDict
from synapse.types import Requester, UserID

# action -> the membership the event carries
_ACTIONS = {
    "join": "join",
    "invite": "invite",
    "leave": "leave",
    "kick": "leave",
    "ban": "ban",
    "unban": "leave",
    "knock": "knock",
}
# actions a user can only take for themselves
_SELF_ACTIONS = ("join", "leave", "knock")


class RoomMemberHandler:
    def __init__(self, hs: Any) -> None:
        self._hs = hs
        rc = hs.config.ratelimiting
        self._joins_per_user = ratelimiter_from_settings(hs.clock, rc.rc_joins_local)
        self._joins_per_room = ratelimiter_from_settings(hs.clock, rc.rc_joins_per_room)
        self._invites_per_room = ratelimiter_from_settings(hs.clock, rc.rc_invites_per_room)
        self._invites_per_user = ratelimiter_from_settings(hs.clock, rc.rc_invites_per_user)
        self._invites_per_issuer = ratelimiter_from_settings(hs.clock, rc.rc_invites_per_issuer)

    async def update_membership(
        self,
        requester: Requester,
        target_user_id: str,
        room_id: str,
        action: str,
        *,
        reason: Optional[str] = None,
        content: Optional[JsonDict] = None,
        ratelimit: bool = True,
        txn_id: Optional[str] = None,
    ) -> str:
        """Sends the member event for `action` on `target_user_id`; returns its event id.

        `content` (e.g. a new displayname from profile propagation, or
        `is_direct` on an invite) is sent as given with `membership` set; on a
        join without a displayname the target's profile fills it in.
        """
        membership = _ACTIONS.get(action)
        if membership is None:
            raise SynapseError(400, f"Unknown membership action {action!r}", Codes.INVALID_PARAM)
        UserID.from_string(target_user_id)
        if action in _SELF_ACTIONS and target_user_id != requester.user_id:
            raise AuthError(403, f"Cannot {action} on behalf of another user")
        stores = self._hs.stores
        await stores.rooms.get_room_version(room_id)  # 404 for rooms this server does not know
        current = await stores.members.get_membership(room_id, target_user_id)
        current_membership = current[0] if current else None
        if action == "unban" and current_membership != "ban":
            raise AuthError(403, f"{target_user_id} is not banned from the room")
        if action == "kick" and current_membership not in ("join", "invite", "knock"):
            raise AuthError(403, f"{target_user_id} is not in the room")
        if action == "join" and requester.is_guest and current_membership != "join":
            guest_access = await stores.state.get_current_state_event(room_id, "m.room.guest_access")
            if guest_access is None or guest_access.content.get("guest_access") != "can_join":
                raise AuthError(403, "Guest access is not allowed in this room", Codes.GUEST_ACCESS_FORBIDDEN)

        event_content = dict(content or {})
        event_content["membership"] = membership
        if reason is not None:
            event_content["reason"] = reason
        if membership == "join" and content is None:
            profile = await stores.profile.get_profile(target_user_id)
            for key in ("displayname", "avatar_url"):
                if profile and profile.get(key) is not None:
                    event_content[key] = profile[key]

        if ratelimit:
            self._ratelimit(requester, target_user_id, room_id, action, current_membership)
        event = await self._hs.event_creation_handler.create_and_send_event(
            requester,
            {"type": "m.room.member", "room_id": room_id, "state_key": target_user_id, "content": event_content},
            txn_id=txn_id,
            ratelimit=False,
        )
        return event.event_id

    def _ratelimit(
        self, requester: Requester, target: str, room_id: str, action: str, current_membership: Optional[str]
    ) -> None:
        if action == "join" and current_membership != "join":
            # a profile update of a joined member is not a join
            self._joins_per_user.ratelimit(requester.user_id)
            self._joins_per_room.ratelimit(room_id)
        elif action == "invite":
            self._invites_per_room.ratelimit(room_id)
            self._invites_per_user.ratelimit(target)
            self._invites_per_issuer.ratelimit(requester.user_id)

    async def forget(self, requester: Requester, room_id: str) -> None:
        """Hides a room the user has left from their history (POST .../forget)."""
        current = await self._hs.stores.members.get_membership(room_id, requester.user_id)
        if current is not None and current[0] in ("join", "invite", "knock"):
            raise SynapseError(400, f"{requester.user_id} is in room {room_id}; leave it first", Codes.UNKNOWN)
        await self._hs.stores.members.forget(requester.user_id, room_id)
