"""Passwords, access tokens and user-interactive authentication (UIA).

- Passwords are bcrypt hashes (config.registration.bcrypt_rounds, plus the
  optional pepper); hashing runs in a thread so the reactor keeps serving.
- Access tokens look like Synapse's `syt_<localpart b64>_<random>_<crc>`.
- UIA sessions live in the database (RegistrationStore) so the steps of one
  session may reach different processes. A session remembers the request it
  was created for; changing method or path mid-session is refused.
"""

import base64
import logging
import secrets
import string
import zlib
from typing import TYPE_CHECKING, Any, Optional

import bcrypt
from twisted.internet import threads
from twisted.web.server import Request

from synapse.api.errors import AuthError, Codes, SynapseError
from synapse.api.ratelimiting import ratelimiter_from_settings
from synapse.types import Requester, UserID

if TYPE_CHECKING:
    from synapse.server import HomeServer

logger = logging.getLogger(__name__)


class LoginType:
    PASSWORD = "m.login.password"
    DUMMY = "m.login.dummy"


# sessions older than this are forgotten (Synapse's default session_timeout)
UI_AUTH_SESSION_LIFETIME_MS = 48 * 3600 * 1000
MAX_PASSWORD_LENGTH = 512

_BASE62 = string.digits + string.ascii_letters


def _base62(n: int, width: int) -> str:
    digits = []
    while n:
        n, r = divmod(n, 62)
        digits.append(_BASE62[r])
    return "".join(reversed(digits)).rjust(width, "0")


def random_string(length: int) -> str:
    return "".join(secrets.choice(string.ascii_letters) for _ in range(length))


def generate_access_token(user_id: str) -> str:
    """`syt_<localpart>_<random>_<crc>`: recognisable in logs and leak scanners."""
    localpart = UserID.from_string(user_id).localpart
    b64 = base64.urlsafe_b64encode(localpart.encode("utf-8")).decode("ascii").rstrip("=")
    body = f"syt_{b64}_{random_string(20)}"
    return f"{body}_{_base62(zlib.crc32(body.encode('ascii')), 6)}"


class UIAuthRequired(SynapseError):
    """401 with the flows, params and session the client must complete."""

    def __init__(self, body: dict[str, Any], error: Optional[SynapseError] = None) -> None:
        extra = dict(body)
        if error is not None:
            super().__init__(401, error.msg, error.errcode, extra)
        else:
            super().__init__(401, "User-interactive authentication required", Codes.UNAUTHORIZED, extra)

    def error_dict(self) -> dict[str, Any]:
        # without a stage failure the body is just flows/params/session/completed
        if self.errcode == Codes.UNAUTHORIZED:
            return dict(self.additional_fields)
        return super().error_dict()


class AuthHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._clock = hs.clock
        reg = hs.config.registration
        self._bcrypt_rounds: int = reg.bcrypt_rounds
        self._pepper: str = reg.password_pepper
        self.password_enabled: bool = reg.password_enabled
        rc = hs.config.ratelimiting
        # login attempts per client address, successful logins per account,
        # and failed password checks per account (rc_login.*)
        self.login_address_ratelimiter = ratelimiter_from_settings(self._clock, rc.rc_login_address)
        self.login_account_ratelimiter = ratelimiter_from_settings(self._clock, rc.rc_login_account)
        self.failed_attempts_ratelimiter = ratelimiter_from_settings(self._clock, rc.rc_login_failed_attempts)

    @property
    def store(self) -> Any:
        return self._hs.stores.registration

    # -- passwords ---------------------------------------------------------
    async def hash_password(self, password: str) -> str:
        def do_hash() -> str:
            salted = (password + self._pepper).encode("utf-8")
            return bcrypt.hashpw(salted, bcrypt.gensalt(self._bcrypt_rounds)).decode("ascii")

        return await threads.deferToThread(do_hash)

    async def validate_hash(self, password: str, password_hash: str) -> bool:
        def do_check() -> bool:
            try:
                return bcrypt.checkpw((password + self._pepper).encode("utf-8"), password_hash.encode("ascii"))
            except ValueError:
                return False

        if not password_hash:
            return False
        return await threads.deferToThread(do_check)

    async def set_password(self, user_id: str, new_password: str) -> None:
        check_password_param(new_password, "new_password")
        await self.store.set_password_hash(user_id, await self.hash_password(new_password))

    # -- finding the user a login names --------------------------------------
    async def resolve_user_id(self, identifier: Any) -> str:
        """The local user id a `m.id.user` identifier (id or localpart) names, or 403."""
        if not isinstance(identifier, str) or not identifier:
            raise SynapseError(400, "User identifier must be a non-empty string", Codes.INVALID_PARAM)
        if identifier.startswith("@"):
            try:
                user = UserID.from_string(identifier)
            except SynapseError:
                raise AuthError(403, "Invalid username or password") from None
        else:
            user = UserID(identifier, self._hs.hostname)
        if user.domain != self._hs.hostname:
            raise AuthError(403, "Invalid username or password")
        user_id = user.to_string()
        if await self.store.get_user(user_id) is not None:
            return user_id
        matches = await self.store.find_user_ids_case_insensitive(user_id)
        if len(matches) == 1:
            return matches[0]
        raise AuthError(403, "Invalid username or password")

    async def check_password_login(self, login: dict[str, Any]) -> str:
        """Validates an m.login.password submission; returns the user id.

        Failed attempts per user are counted and limited (rc_login.failed_attempts).
        """
        identifier = login_identifier_user(login)
        password = login.get("password")
        if not isinstance(password, str):
            errcode = Codes.MISSING_PARAM if password is None else Codes.BAD_JSON
            raise SynapseError(400, "Missing or invalid 'password'", errcode)
        try:
            user_id = await self.resolve_user_id(identifier)
        except AuthError:
            # unknown users count too, so guessing names is throttled like guessing passwords
            unknown_key = str(identifier).lower()
            self._check_failed_attempts(unknown_key)
            self.failed_attempts_ratelimiter.record_action(unknown_key)
            raise
        key = user_id.lower()
        self._check_failed_attempts(key)
        user = await self.store.get_user(user_id)
        if user and user["deactivated"]:
            raise AuthError(403, "This account has been deactivated", Codes.USER_DEACTIVATED)
        password_hash = await self.store.get_password_hash(user_id)
        if not password_hash or not await self.validate_hash(password, password_hash):
            self.failed_attempts_ratelimiter.record_action(key)
            raise AuthError(403, "Invalid username or password")
        return user_id

    def _check_failed_attempts(self, key: str) -> None:
        self.failed_attempts_ratelimiter.ratelimit(key, update=False)

    # -- access tokens -----------------------------------------------------
    async def create_access_token(self, user_id: str, device_id: Optional[str]) -> str:
        token = generate_access_token(user_id)
        await self.store.add_access_token(user_id, token, device_id)
        return token

    async def delete_access_token(self, token: str) -> None:
        await self.store.delete_access_token(token)
        await self._hs.auth.invalidate_tokens([token])

    async def delete_access_tokens_for_user(
        self, user_id: str, *, device_ids: Optional[list[str]] = None, except_token_id: Optional[int] = None
    ) -> None:
        tokens = await self.store.delete_access_tokens(user_id, device_ids=device_ids, except_token_id=except_token_id)
        await self._hs.auth.invalidate_tokens(tokens)

    # -- user-interactive auth -----------------------------------------------
    async def validate_user_via_ui_auth(self, requester: Requester, request: Request, body: dict[str, Any]) -> None:
        """Requires the requester to re-enter their password (one UIA step per call)."""
        has_password = bool(await self.store.get_password_hash(requester.user_id))
        if not has_password or not self.password_enabled:
            raise SynapseError(400, "User has no password to authenticate with", Codes.FORBIDDEN)
        completed, _, _ = await self.check_ui_auth([[LoginType.PASSWORD]], request, body)
        if completed.get(LoginType.PASSWORD) != requester.user_id:
            raise AuthError(403, "Invalid auth")

    async def check_ui_auth(
        self,
        flows: list[list[str]],
        request: Request,
        body: dict[str, Any],
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """Runs one UIA step; returns (completed stage -> result, clientdict, session id)
        once a flow is complete, else raises 401 with what is still missing.

        The clientdict is the request body minus "auth"; the one saved in the
        session is used when a later step sends none.
        """
        auth = body.get("auth")
        clientdict = {k: v for k, v in body.items() if k != "auth"}
        method = request.method.decode("ascii")
        uri = request.path.decode("utf-8", errors="replace")
        if auth is not None and not isinstance(auth, dict):
            raise SynapseError(400, "'auth' must be an object", Codes.BAD_JSON)
        session_id = auth.get("session") if auth else None
        if session_id is None:
            session_id = random_string(24)
            await self.store.create_ui_auth_session(
                session_id,
                method,
                uri,
                _without_password(clientdict),
                self._clock.time_msec() - UI_AUTH_SESSION_LIFETIME_MS,
            )
            session = await self.store.get_ui_auth_session(session_id)
        else:
            session = await self._get_session(session_id)
            if (session["method"], session["uri"]) != (method, uri):
                raise SynapseError(
                    403, "Requested operation has changed during the UI authentication session.", Codes.FORBIDDEN
                )
            if clientdict:
                await self.store.set_ui_auth_clientdict(session_id, _without_password(clientdict))
            else:
                clientdict = session["clientdict"]
        completed = dict(session["completed"])

        if auth is not None and "type" in auth:
            stage = auth["type"]
            try:
                result = await self._check_stage(stage, auth, flows)
            except SynapseError as e:
                if e.code == 429:
                    raise
                raise UIAuthRequired(self._uia_body(flows, session_id, completed), e) from e
            await self.store.mark_ui_auth_stage_complete(session_id, stage, result)
            completed[stage] = result

        for flow in flows:
            if all(stage in completed for stage in flow):
                return completed, clientdict, session_id
        raise UIAuthRequired(self._uia_body(flows, session_id, completed))

    async def _get_session(self, session_id: Any) -> dict[str, Any]:
        session = None
        if isinstance(session_id, str):
            session = await self.store.get_ui_auth_session(session_id)
        if session is None or session["creation_ts"] < self._clock.time_msec() - UI_AUTH_SESSION_LIFETIME_MS:
            raise SynapseError(400, f"Unknown session ID: {session_id}", Codes.UNKNOWN)
        return session

    async def _check_stage(self, stage: Any, auth: dict[str, Any], flows: list[list[str]]) -> Any:
        if not any(stage in flow for flow in flows):
            raise SynapseError(400, f"Unrecognised login type {stage!r}", Codes.UNRECOGNIZED)
        if stage == LoginType.DUMMY:
            return True
        if stage == LoginType.PASSWORD:
            return await self.check_password_login(auth)
        raise SynapseError(400, f"Unrecognised login type {stage!r}", Codes.UNRECOGNIZED)

    async def set_session_data(self, session_id: str, key: str, value: Any) -> None:
        await self.store.set_ui_auth_server_data(session_id, key, value)

    async def get_session_data(self, session_id: str, key: str) -> Any:
        session = await self._get_session(session_id)
        return session["serverdict"].get(key)

    @staticmethod
    def _uia_body(flows: list[list[str]], session_id: str, completed: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flows": [{"stages": list(flow)} for flow in flows],
            # none of the offered stages (dummy, password) takes parameters
            "params": {},
            "session": session_id,
        }
        if completed:
            body["completed"] = list(completed)
        return body


def _without_password(clientdict: dict[str, Any]) -> dict[str, Any]:
    """Plaintext passwords never reach the session table."""
    return {k: v for k, v in clientdict.items() if k not in ("password", "new_password")}


def login_identifier_user(login: dict[str, Any]) -> Any:
    """The user named by a login/UIA submission: `identifier` (m.id.user) or legacy `user`."""
    identifier = login.get("identifier")
    if identifier is None:
        if "user" in login:
            return login["user"]
        raise SynapseError(400, "Missing 'identifier'", Codes.MISSING_PARAM)
    if not isinstance(identifier, dict):
        raise SynapseError(400, "'identifier' must be an object", Codes.BAD_JSON)
    id_type = identifier.get("type")
    if id_type == "m.id.user":
        if "user" not in identifier:
            raise SynapseError(400, "Missing 'user' in identifier", Codes.MISSING_PARAM)
        return identifier["user"]
    if id_type in ("m.id.thirdparty", "m.id.phone"):
        # no third-party identifiers are bound to accounts on this server
        raise AuthError(403, "Invalid username or password")
    raise SynapseError(400, "Unknown login identifier type", Codes.UNKNOWN)


def check_password_param(password: Any, name: str = "password") -> str:
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        raise SynapseError(400, f"Invalid {name}", Codes.BAD_JSON)
    return password
