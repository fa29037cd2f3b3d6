"""Profiles of local users: displayname, avatar_url and (spec v1.16) custom
fields such as m.tz.

A displayname or avatar_url change is copied into every room the user has
joined by a new m.room.member join event carrying the new profile, as
Synapse does. Custom fields stay out of rooms.
"""

import logging
import re
from typing import TYPE_CHECKING, Any, Optional

from canonicaljson import encode_canonical_json

from synapse.api.errors import AuthError, Codes, NotFoundError, SynapseError
from synapse.types import Requester, UserID

if TYPE_CHECKING:
    from synapse.server import HomeServer

logger = logging.getLogger(__name__)

MAX_DISPLAYNAME_LEN = 256
MAX_AVATAR_URL_LEN = 1000
# the spec's limits for custom fields: key length in bytes and whole profile size
MAX_FIELD_KEY_BYTES = 255
MAX_PROFILE_BYTES = 64 * 1024

# displayname and avatar_url live in the profiles table and reach rooms
MEMBER_FIELDS = ("displayname", "avatar_url")
_FIELD_NAME_RE = re.compile(r"^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$")


def check_field_name(field: str) -> None:
    """400 M_KEY_TOO_LARGE / M_INVALID_PARAM unless `field` is a key the spec allows."""
    if len(field.encode("utf-8")) > MAX_FIELD_KEY_BYTES:
        raise SynapseError(400, f"Profile key is longer than {MAX_FIELD_KEY_BYTES} bytes", Codes.KEY_TOO_LARGE)
    if not _FIELD_NAME_RE.match(field):
        raise SynapseError(400, "Invalid profile key", Codes.INVALID_PARAM)


class ProfileHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    @property
    def _store(self) -> Any:
        return self._hs.stores.profile

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        """Every field of the profile (unset displayname/avatar_url omitted); 404 if unknown or empty."""
        profile = await self._load_profile(user_id)
        if not profile:
            # the spec's 404 covers "no profile information" as well as "no such user"
            raise NotFoundError("Profile was not found")
        return profile

    async def get_profile_field(self, user_id: str, field: str) -> Any:
        """One field's value; 404 if the user or the field does not exist."""
        check_field_name(field)
        profile = await self._load_profile(user_id)
        if profile is None:
            raise NotFoundError("Profile was not found")
        if field not in profile:
            raise NotFoundError("Profile field not found")
        return profile[field]

    async def _load_profile(self, user_id: str) -> Optional[dict[str, Any]]:
        """All set fields of a local user's profile, or None if there is no such local user."""
        if UserID.from_string(user_id).domain != self._hs.hostname:
            return None
        profile = await self._store.get_profile(user_id)
        if profile is None:
            return None
        result: dict[str, Any] = await self._store.get_custom_fields(user_id)
        result.update({k: v for k, v in profile.items() if v is not None})
        return result

    async def set_profile_field(self, requester: Requester, user_id: str, field: str, value: Any) -> None:
        """Sets one field; for displayname/avatar_url "" or None clears it and rooms are told."""
        check_field_name(field)
        await self._check_may_change(requester, user_id)
        if field in MEMBER_FIELDS:
            await self._set_member_field(requester, user_id, field, value)
            return
        if field == "m.tz" and not isinstance(value, str):
            raise SynapseError(400, "'m.tz' must be a string", Codes.INVALID_PARAM)
        profile = await self._load_profile(user_id) or {}
        profile[field] = value
        if len(encode_canonical_json(profile)) > MAX_PROFILE_BYTES:
            raise SynapseError(400, f"Profile would exceed {MAX_PROFILE_BYTES} bytes", Codes.PROFILE_TOO_LARGE)
        await self._store.set_custom_field(user_id, field, value)

    async def delete_profile_field(self, requester: Requester, user_id: str, field: str) -> None:
        check_field_name(field)
        await self._check_may_change(requester, user_id)
        if field in MEMBER_FIELDS:
            await self._set_member_field(requester, user_id, field, None)
        else:
            await self._store.delete_custom_field(user_id, field)

    async def _check_may_change(self, requester: Requester, user_id: str) -> None:
        if UserID.from_string(user_id).domain != self._hs.hostname:
            raise AuthError(403, "Cannot change the profile of a user on another server")
        if requester.user_id != user_id:
            raise AuthError(403, "Cannot change another user's profile")
        if await self._store.get_profile(user_id) is None:
            raise NotFoundError("Profile was not found")

    async def _set_member_field(self, requester: Requester, user_id: str, field: str, value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise SynapseError(400, f"'{field}' must be a string", Codes.INVALID_PARAM)
        limit = MAX_DISPLAYNAME_LEN if field == "displayname" else MAX_AVATAR_URL_LEN
        if value is not None and len(value) > limit:
            raise SynapseError(400, f"'{field}' is too long (max {limit})", Codes.INVALID_PARAM)
        new_value: Optional[str] = value or None
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
        for room in await self._hs.stores.members.get_rooms_for_user(user_id):
            try:
                await self._hs.room_member_handler.update_membership(
                    requester, user_id, room.room_id, "join", content=content, ratelimit=False
                )
            except SynapseError as e:
                # one room refusing the update (e.g. power levels) must not fail the others
                logger.warning("Failed to update profile of %s in %s: %s", user_id, room.room_id, e)
