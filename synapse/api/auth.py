"""Who is making a request: access token lookup for every authenticated servlet.

`Auth.get_user_by_req` reads the token from `Authorization: Bearer` or the
deprecated `?access_token=` and answers with a `Requester`. Lookups are
cached per process in the named cache "access_tokens"; whoever deletes
tokens calls `invalidate_tokens`, which drops them here at once and, through
the `caches` stream (synapse/streams/caches.py), on every other process.
"""

from typing import TYPE_CHECKING, Any, Iterable, Optional

from twisted.internet import defer
from twisted.web.server import Request

from synapse.api.errors import (
    AuthError,
    Codes,
    InvalidClientTokenError,
    MissingClientTokenError,
)
from synapse.types import Requester, UserID
from synapse.util.caches import LruCache

if TYPE_CHECKING:
    from synapse.server import HomeServer

_CACHE_SIZE = 10_000
# the name other processes invalidate token lookups by
ACCESS_TOKEN_CACHE = "access_tokens"
_LAST_SEEN_INTERVAL_MS = 60_000


def get_access_token_from_request(request: Request) -> Optional[str]:
    """The request's access token, or None; 401 M_MISSING_TOKEN if it is given twice or malformed."""
    header_values = request.requestHeaders.getRawHeaders(b"Authorization")
    query_values = request.args.get(b"access_token") if request.args else None
    if header_values:
        if query_values:
            raise MissingClientTokenError("Mixing Authorization headers and access_token query parameters.")
        if len(header_values) > 1:
            raise MissingClientTokenError("Too many Authorization headers.")
        scheme, _, token = header_values[0].partition(b" ")
        if scheme != b"Bearer" or not token:
            raise MissingClientTokenError("Invalid Authorization header.")
        return token.decode("ascii", errors="replace").strip()
    if query_values:
        return query_values[0].decode("ascii", errors="replace")
    return None


def get_client_ip(request: Request) -> str:
    """The client's address: the one the site resolved (e.g. from X-Forwarded-For) or the peer's."""
    forwarded = getattr(request, "client_ip", None)
    if forwarded:
        return str(forwarded)
    address = request.getClientAddress()
    return str(getattr(address, "host", address))


class Auth:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs
        self._clock = hs.clock
        # token -> (Requester, valid_until_ms)
        self._cache: LruCache[str, tuple[Requester, Optional[int]]] = LruCache(ACCESS_TOKEN_CACHE, _CACHE_SIZE)
        hs.caches.register(self._cache)
        # (user_id, device_id) -> (ip, time in ms) of the last recorded use
        self._last_seen: dict[tuple[str, Optional[str]], tuple[str, int]] = {}

    def has_access_token(self, request: Request) -> bool:
        return get_access_token_from_request(request) is not None

    async def get_user_by_req(self, request: Request, allow_guest: bool = False) -> Requester:
        """The authenticated requester: 401 M_MISSING_TOKEN / M_UNKNOWN_TOKEN otherwise.

        Guests are refused with 403 M_GUEST_ACCESS_FORBIDDEN unless `allow_guest`.
        """
        token = get_access_token_from_request(request)
        if token is None:
            raise MissingClientTokenError()
        requester = await self.get_user_by_access_token(token)
        if requester.is_guest and not allow_guest:
            raise AuthError(403, "Guest access not allowed", Codes.GUEST_ACCESS_FORBIDDEN)
        if requester.device_id is not None:
            await self._record_last_seen(request, requester)
        return requester

    async def _record_last_seen(self, request: Request, requester: Requester) -> None:
        """Keeps the device's last_seen_ip/ts current, writing at most once a minute per device."""
        key = (requester.user_id, requester.device_id)
        ip = get_client_ip(request)
        now = self._clock.time_msec()
        previous = self._last_seen.get(key)
        if previous is not None and previous[0] == ip and now - previous[1] < _LAST_SEEN_INTERVAL_MS:
            return
        self._last_seen[key] = (ip, now)
        if len(self._last_seen) > _CACHE_SIZE:
            self._last_seen.clear()
        user_agent = request.getHeader(b"User-Agent")
        await self._hs.stores.devices.record_last_seen(
            requester.user_id, requester.device_id, ip, user_agent.decode("utf-8", "replace") if user_agent else None
        )

    async def get_user_by_access_token(self, token: str) -> Requester:
        cached = self._cache.get(token)
        if cached is None:
            load_token = self._cache.begin_load()
            info = await self._hs.stores.registration.get_user_by_access_token(token)
            if info is None or info["deactivated"]:
                raise InvalidClientTokenError()
            requester = Requester(
                user=UserID.from_string(info["user_id"]),
                device_id=info["device_id"],
                access_token_id=info["token_id"],
                is_guest=info["is_guest"],
            )
            cached = (requester, info["valid_until_ms"])
            self._cache.set(token, cached, load_token)
        requester, valid_until_ms = cached
        if valid_until_ms is not None and valid_until_ms < self._clock.time_msec():
            raise InvalidClientTokenError("Access token has expired", soft_logout=True)
        return requester

    def invalidate_tokens(self, tokens: Iterable[str]) -> "defer.Deferred[None]":
        """Forgets cached lookups of deleted tokens here at once, and on
        every process once the returned Deferred fires (await it, so that a
        logout is answered only when no process accepts the token)."""
        return defer.ensureDeferred(self._hs.invalidate_cache(ACCESS_TOKEN_CACHE, list(tokens)))


def requester_for_user(user_id: str, device_id: Optional[str] = None, **kwargs: Any) -> Requester:
    """A Requester acting as `user_id` on the server's own initiative (no token)."""
    return Requester(user=UserID.from_string(user_id), device_id=device_id, access_token_id=None, **kwargs)
