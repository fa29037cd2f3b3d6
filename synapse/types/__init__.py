"""Matrix identifiers: parsing and validation of user, room and alias ids."""

import re

import attrs

from synapse.api.errors import Codes, SynapseError

# https://spec.matrix.org/v1.16/appendices/#user-identifiers
_LOCALPART_RE = re.compile(r"^[a-z0-9._=\-/+]+$")
# historical user ids may contain any printable ASCII except ':'
_HISTORICAL_LOCALPART_RE = re.compile(r"^[\x21-\x39\x3b-\x7e]+$")


@attrs.frozen
class DomainSpecificString:
    """An identifier of the form <sigil><localpart>:<domain>."""

    SIGIL = ""
    localpart: str
    domain: str

    @classmethod
    def from_string(cls, s: str):
        if not isinstance(s, str) or len(s) < 3 or s[0] != cls.SIGIL or ":" not in s:
            raise SynapseError(400, f"Expected {cls.__name__} like '{cls.SIGIL}x:domain', got {s!r}", Codes.INVALID_PARAM)
        localpart, domain = s[1:].split(":", 1)
        if not domain:
            raise SynapseError(400, f"{cls.__name__} {s!r} has no domain", Codes.INVALID_PARAM)
        return cls(localpart, domain)

    @classmethod
    def is_valid(cls, s: str) -> bool:
        try:
            cls.from_string(s)
            return True
        except SynapseError:
            return False

    def to_string(self) -> str:
        return f"{self.SIGIL}{self.localpart}:{self.domain}"

    __str__ = to_string


class UserID(DomainSpecificString):
    SIGIL = "@"


class RoomAlias(DomainSpecificString):
    SIGIL = "#"


def is_valid_localpart(localpart: str) -> bool:
    """Whether a new user may register this localpart (the spec's grammar)."""
    return bool(_LOCALPART_RE.match(localpart))


def is_valid_room_id(room_id: str) -> bool:
    """Room ids are '!opaque:domain', or '!opaque' from room version 12 on."""
    return isinstance(room_id, str) and len(room_id) > 1 and room_id[0] == "!" and len(room_id) <= 255


@attrs.frozen
class Requester:
    """Who is making a request: the authenticated user and their device."""

    user: UserID
    device_id: "str | None"
    access_token_id: "int | None"
    is_guest: bool = False

    @property
    def user_id(self) -> str:
        return self.user.to_string()
