"""Errors that reach clients, each with the spec's errcode and HTTP status.

Raise `SynapseError` (or a subclass) anywhere below a servlet; the JSON
server turns it into `{"errcode", "error"}`. Anything else is a bug and
answers 500 with its traceback logged.
"""

from http import HTTPStatus
from typing import Any, Optional


class Codes:
    UNRECOGNIZED = "M_UNRECOGNIZED"
    UNAUTHORIZED = "M_UNAUTHORIZED"
    FORBIDDEN = "M_FORBIDDEN"
    BAD_JSON = "M_BAD_JSON"
    NOT_JSON = "M_NOT_JSON"
    USER_IN_USE = "M_USER_IN_USE"
    ROOM_IN_USE = "M_ROOM_IN_USE"
    BAD_PAGINATION = "M_BAD_PAGINATION"
    BAD_STATE = "M_BAD_STATE"
    UNKNOWN = "M_UNKNOWN"
    NOT_FOUND = "M_NOT_FOUND"
    MISSING_TOKEN = "M_MISSING_TOKEN"
    UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
    GUEST_ACCESS_FORBIDDEN = "M_GUEST_ACCESS_FORBIDDEN"
    LIMIT_EXCEEDED = "M_LIMIT_EXCEEDED"
    CAPTCHA_NEEDED = "M_CAPTCHA_NEEDED"
    MISSING_PARAM = "M_MISSING_PARAM"
    INVALID_PARAM = "M_INVALID_PARAM"
    TOO_LARGE = "M_TOO_LARGE"
    EXCLUSIVE = "M_EXCLUSIVE"
    THREEPID_IN_USE = "M_THREEPID_IN_USE"
    THREEPID_NOT_FOUND = "M_THREEPID_NOT_FOUND"
    INVALID_USERNAME = "M_INVALID_USERNAME"
    SERVER_NOT_TRUSTED = "M_SERVER_NOT_TRUSTED"
    CONSENT_NOT_GIVEN = "M_CONSENT_NOT_GIVEN"
    CANNOT_LEAVE_SERVER_NOTICE_ROOM = "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
    RESOURCE_LIMIT_EXCEEDED = "M_RESOURCE_LIMIT_EXCEEDED"
    UNSUPPORTED_ROOM_VERSION = "M_UNSUPPORTED_ROOM_VERSION"
    INCOMPATIBLE_ROOM_VERSION = "M_INCOMPATIBLE_ROOM_VERSION"
    WRONG_ROOM_KEYS_VERSION = "M_WRONG_ROOM_KEYS_VERSION"
    EXPIRED_ACCOUNT = "M_EXPIRED_ACCOUNT"
    PASSWORD_TOO_SHORT = "M_PASSWORD_TOO_SHORT"
    WEAK_PASSWORD = "M_WEAK_PASSWORD"
    INVALID_SIGNATURE = "M_INVALID_SIGNATURE"
    USER_DEACTIVATED = "M_USER_DEACTIVATED"
    INVALID_ROOM_STATE = "M_INVALID_ROOM_STATE"
    USER_LOCKED = "M_USER_LOCKED"
    PROFILE_TOO_LARGE = "M_PROFILE_TOO_LARGE"
    KEY_TOO_LARGE = "M_KEY_TOO_LARGE"


class SynapseError(Exception):
    """A client-visible error: HTTP status, errcode and a human message."""

    def __init__(
        self,
        code: int,
        msg: str,
        errcode: str = Codes.UNKNOWN,
        additional_fields: Optional[dict[str, Any]] = None,
        headers: Optional[dict[str, str]] = None,
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = int(code)
        self.msg = msg
        self.errcode = errcode
        self.additional_fields = additional_fields or {}
        self.headers = headers

    def error_dict(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "error": self.msg, **self.additional_fields}


class NotFoundError(SynapseError):
    def __init__(self, msg: str = "Not found", errcode: str = Codes.NOT_FOUND) -> None:
        super().__init__(HTTPStatus.NOT_FOUND, msg, errcode)


class AuthError(SynapseError):
    """403 by default: the requester may not do this."""

    def __init__(self, code: int, msg: str, errcode: str = Codes.FORBIDDEN, **kwargs: Any) -> None:
        super().__init__(code, msg, errcode, **kwargs)


class InvalidClientTokenError(SynapseError):
    def __init__(self, msg: str = "Unrecognised access token", soft_logout: bool = False) -> None:
        super().__init__(HTTPStatus.UNAUTHORIZED, msg, Codes.UNKNOWN_TOKEN, {"soft_logout": soft_logout})


class MissingClientTokenError(SynapseError):
    def __init__(self, msg: str = "Missing access token") -> None:
        super().__init__(HTTPStatus.UNAUTHORIZED, msg, Codes.MISSING_TOKEN)


class LimitExceededError(SynapseError):
    def __init__(self, retry_after_ms: Optional[int] = None, msg: str = "Too Many Requests") -> None:
        extra = {"retry_after_ms": retry_after_ms} if retry_after_ms is not None else {}
        headers = {"Retry-After": str((retry_after_ms + 999) // 1000)} if retry_after_ms is not None else None
        super().__init__(HTTPStatus.TOO_MANY_REQUESTS, msg, Codes.LIMIT_EXCEEDED, extra, headers)


class UnrecognizedRequestError(SynapseError):
    def __init__(self, code: int = 404, msg: str = "Unrecognized request") -> None:
        super().__init__(code, msg, Codes.UNRECOGNIZED)


class EventAuthError(AuthError):
    """An event failed the room's authorization rules."""

    def __init__(self, msg: str) -> None:
        super().__init__(HTTPStatus.FORBIDDEN, msg, Codes.FORBIDDEN)


class ConfigError(Exception):
    """A configuration problem: one line naming the key and the file."""

    def __init__(self, msg: str, path: Optional[list[str]] = None, file: Optional[str] = None) -> None:
        self.msg = msg
        self.path = path
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path) if self.path else None
        parts = [p for p in (self.file, where) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.msg}" if prefix else self.msg
