"""Creating accounts: username rules, user rows, the first login, and the
shared-secret admin registration of /_synapse/admin/v1/register."""

import hashlib
import hmac
import secrets
import string
from typing import TYPE_CHECKING, Any, Optional

from synapse.api.errors import Codes, SynapseError
from synapse.api.ratelimiting import ratelimiter_from_settings
from synapse.types import UserID, is_valid_localpart

if TYPE_CHECKING:
    from synapse.server import HomeServer

MAX_USERID_LENGTH = 255
# GET /_synapse/admin/v1/register nonces are good for one minute
NONCE_LIFETIME_MS = 60 * 1000
# the user_type values Synapse accepts (None: a regular user)
USER_TYPES = ("support", "bot")


class RegistrationHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        # registrations per client address (rc_registration)
        self.ratelimiter = ratelimiter_from_settings(hs.clock, hs.config.ratelimiting.rc_registration)

    @property
    def _store(self) -> Any:
        return self._hs.stores.registration

    async def check_username(self, localpart: Any) -> str:
        """The user id for a wanted localpart: 400 M_INVALID_USERNAME or M_USER_IN_USE otherwise."""
        if not isinstance(localpart, str) or not localpart:
            raise SynapseError(400, "User ID cannot be empty", Codes.INVALID_USERNAME)
        if not is_valid_localpart(localpart):
            raise SynapseError(400, "User ID can only contain characters a-z, 0-9, or '=_-./+'", Codes.INVALID_USERNAME)
        if localpart[0] == "_":
            # reserved for application services in Synapse's convention
            raise SynapseError(400, "User ID may not begin with _", Codes.INVALID_USERNAME)
        user_id = UserID(localpart, self._hs.hostname).to_string()
        if len(user_id) > MAX_USERID_LENGTH:
            raise SynapseError(
                400, f"User ID may not be longer than {MAX_USERID_LENGTH} characters", Codes.INVALID_USERNAME
            )
        if await self._store.get_user(user_id) is not None or await self._store.find_user_ids_case_insensitive(user_id):
            raise SynapseError(400, "User ID already taken.", Codes.USER_IN_USE)
        return user_id

    async def register_user(
        self,
        localpart: Optional[str] = None,
        password_hash: Optional[str] = None,
        *,
        admin: bool = False,
        is_guest: bool = False,
        user_type: Optional[str] = None,
        displayname: Optional[str] = None,
    ) -> str:
        """Creates a user; a random localpart when none is wanted. Returns the user id.

        The initial display name defaults to the localpart, as in Synapse.
        """
        if localpart is None:
            for _ in range(10):
                localpart = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))
                user_id = UserID(localpart, self._hs.hostname).to_string()
                if await self._store.register_user(
                    user_id,
                    password_hash,
                    admin=admin,
                    is_guest=is_guest,
                    user_type=user_type,
                    displayname=None if is_guest else (displayname or localpart),
                ):
                    return user_id
            raise SynapseError(500, "Could not allocate a user id", Codes.UNKNOWN)
        user_id = await self.check_username(localpart)
        created = await self._store.register_user(
            user_id,
            password_hash,
            admin=admin,
            is_guest=is_guest,
            user_type=user_type,
            displayname=displayname or localpart,
        )
        if not created:
            raise SynapseError(400, "User ID already taken.", Codes.USER_IN_USE)
        return user_id

    async def login_new_user(
        self, user_id: str, device_id: Optional[str], initial_display_name: Optional[str]
    ) -> tuple[str, str]:
        """Registers a device and an access token for a just-created user: (device_id, token)."""
        device_id = await self._hs.device_handler.check_device_registered(user_id, device_id, initial_display_name)
        token = await self._hs.auth_handler.create_access_token(user_id, device_id)
        return device_id, token

    # -- shared-secret registration (admin API) -------------------------------
    async def new_registration_nonce(self) -> str:
        self._require_shared_secret()
        nonce = secrets.token_hex(32)
        await self._store.add_registration_nonce(nonce)
        return nonce

    async def register_with_shared_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        """Checks the nonce and HMAC of a POST /_synapse/admin/v1/register and
        creates the user, logged in on a new device."""
        secret = self._require_shared_secret()
        nonce = body.get("nonce")
        if not isinstance(nonce, str) or not await self._store.consume_registration_nonce(nonce, NONCE_LIFETIME_MS):
            raise SynapseError(400, "unrecognised nonce", Codes.UNKNOWN)
        username = body.get("username")
        if not isinstance(username, str) or "\x00" in username or len(username) > 512:
            raise SynapseError(400, "Invalid username", Codes.INVALID_USERNAME)
        password = body.get("password")
        if not isinstance(password, str) or "\x00" in password or len(password) > 512:
            raise SynapseError(400, "Invalid password", Codes.INVALID_PARAM)
        admin = body.get("admin", False)
        if not isinstance(admin, bool):
            raise SynapseError(400, "Admin flag must be a boolean", Codes.INVALID_PARAM)
        user_type = body.get("user_type")
        if user_type is not None and user_type not in USER_TYPES:
            raise SynapseError(400, "Invalid user type", Codes.INVALID_PARAM)
        displayname = body.get("displayname")
        if displayname is not None and not isinstance(displayname, str):
            raise SynapseError(400, "Invalid displayname", Codes.INVALID_PARAM)
        mac = body.get("mac")
        if not isinstance(mac, str):
            raise SynapseError(400, "mac must be specified", Codes.BAD_JSON)
        expected = shared_secret_mac(secret, nonce, username, password, admin, user_type)
        if not hmac.compare_digest(expected.encode("ascii"), mac.encode("utf-8", errors="replace")):
            raise SynapseError(403, "HMAC incorrect", Codes.FORBIDDEN)

        password_hash = await self._hs.auth_handler.hash_password(password)
        user_id = await self.register_user(
            username.lower(), password_hash, admin=admin, user_type=user_type, displayname=displayname
        )
        device_id, token = await self.login_new_user(user_id, None, None)
        return {"user_id": user_id, "home_server": self._hs.hostname, "access_token": token, "device_id": device_id}

    def _require_shared_secret(self) -> str:
        secret = self._hs.config.registration.registration_shared_secret
        if not secret:
            raise SynapseError(400, "Shared secret registration is not enabled", Codes.UNKNOWN)
        return secret


def shared_secret_mac(
    secret: str, nonce: str, username: str, password: str, admin: bool, user_type: Optional[str] = None
) -> str:
    """HMAC-SHA1 over nonce, username, password, admin flag (and user_type), NUL-separated."""
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha1)
    mac.update(nonce.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(username.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(password.encode("utf-8"))
    mac.update(b"\x00")
    mac.update(b"admin" if admin else b"notadmin")
    if user_type:
        mac.update(b"\x00")
        mac.update(user_type.encode("utf-8"))
    return mac.hexdigest()
