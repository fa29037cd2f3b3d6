"""Servlet base class and request parsing helpers.

Servlets only parse and validate the request and call handlers; every
helper here raises the spec's errcode for bad input.
"""

import json
import re
from typing import Any, Iterable, Optional, Pattern

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError

JsonDict = dict[str, Any]

CLIENT_VERSIONS = ("r0", "v3")


def client_patterns(path: str, versions: Iterable[str] = CLIENT_VERSIONS, unstable: bool = False) -> list[Pattern[str]]:
    """Regexes for a client API path under each version prefix.

    `path` is written as in the spec, with `{name}` for a path parameter, e.g.
    "/rooms/{roomId}/send/{eventType}/{txnId}".
    """
    prefixes = [f"/_matrix/client/{v}" for v in versions]
    if unstable:
        prefixes.append("/_matrix/client/unstable")
    return [path_pattern(prefix + path) for prefix in prefixes]


def path_pattern(path: str) -> Pattern[str]:
    """Compiles a path with `{name}` parameters into an anchored regex."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return re.compile(f"^{regex}$")


class RestServlet:
    """A group of handlers for one path: subclasses define PATTERNS and on_<METHOD>."""

    PATTERNS: list[Pattern[str]] = []
    METHODS = ("GET", "PUT", "POST", "DELETE")

    def register(self, http_server: Any) -> None:
        for method in self.METHODS:
            handler = getattr(self, f"on_{method}", None)
            if handler is not None:
                http_server.register_paths(method, self.PATTERNS, handler, type(self).__name__)


def parse_json_value_from_request(request: Request, allow_empty_body: bool = False) -> Any:
    content = request.content.read() if request.content is not None else b""
    if not content and allow_empty_body:
        return None
    try:
        return json.loads(content.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError):
        raise SynapseError(400, "Content not JSON.", Codes.NOT_JSON)


def _reject_constant(name: str) -> None:
    raise ValueError(f"Invalid JSON constant {name}")


def parse_json_object_from_request(request: Request, allow_empty_body: bool = False) -> JsonDict:
    """The request body as a JSON object: M_NOT_JSON if unparsable, M_BAD_JSON if not an object."""
    content = parse_json_value_from_request(request, allow_empty_body=allow_empty_body)
    if allow_empty_body and content is None:
        return {}
    if not isinstance(content, dict):
        raise SynapseError(400, "Content must be a JSON object.", Codes.BAD_JSON)
    return content


def assert_params_in_dict(body: JsonDict, required: Iterable[str]) -> None:
    missing = [k for k in required if k not in body]
    if missing:
        raise SynapseError(400, f"Missing params: {missing}", Codes.MISSING_PARAM)


def _query_arg(request: Request, name: str) -> Optional[str]:
    values = request.args.get(name.encode("ascii"))
    if not values:
        return None
    try:
        return values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise SynapseError(400, f"Query parameter {name!r} must be UTF-8", Codes.INVALID_PARAM)


def parse_string(
    request: Request,
    name: str,
    default: Optional[str] = None,
    required: bool = False,
    allowed_values: Optional[Iterable[str]] = None,
) -> Optional[str]:
    value = _query_arg(request, name)
    if value is None:
        if required:
            raise SynapseError(400, f"Missing string query parameter {name!r}", Codes.MISSING_PARAM)
        return default
    if allowed_values is not None and value not in allowed_values:
        raise SynapseError(
            400, f"Query parameter {name!r} must be one of {sorted(allowed_values)}", Codes.INVALID_PARAM
        )
    return value


def parse_strings(request: Request, name: str) -> list[str]:
    return [v.decode("utf-8") for v in request.args.get(name.encode("ascii"), [])]


def parse_integer(
    request: Request, name: str, default: Optional[int] = None, required: bool = False, negative: bool = False
) -> Optional[int]:
    value = _query_arg(request, name)
    if value is None:
        if required:
            raise SynapseError(400, f"Missing integer query parameter {name!r}", Codes.MISSING_PARAM)
        return default
    try:
        number = int(value)
    except ValueError:
        raise SynapseError(400, f"Query parameter {name!r} must be an integer", Codes.INVALID_PARAM)
    if number < 0 and not negative:
        raise SynapseError(400, f"Query parameter {name!r} must be a positive integer", Codes.INVALID_PARAM)
    return number


def parse_boolean(request: Request, name: str, default: Optional[bool] = None) -> Optional[bool]:
    value = _query_arg(request, name)
    if value is None:
        return default
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise SynapseError(400, f"Query parameter {name!r} must be 'true' or 'false'", Codes.INVALID_PARAM)
