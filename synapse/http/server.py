"""The JSON API resource: routes requests to servlet methods and renders
results and errors.

A servlet method is `async def on_<METHOD>(self, request, **path_args)`
returning `(status, json_body)`. Path arguments are URL-decoded. A
`SynapseError` becomes the spec's `{"errcode", "error"}` body; any other
exception is a bug: it is logged with its traceback and answers 500.
Unknown paths answer 404 and known paths with the wrong method 405, both
M_UNRECOGNIZED, as the spec asks.
"""

import json
import logging
import re
import time
import urllib.parse
from typing import Any, Awaitable, Callable, Optional, Pattern

from prometheus_client import Counter, Histogram
from twisted.internet import defer
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from synapse.api.errors import Codes, SynapseError, UnrecognizedRequestError

logger = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[tuple[int, Any]]]

requests_counter = Counter(
    "synapse_http_server_requests", "HTTP requests by servlet, method and status", ["servlet", "method", "code"]
)
request_latency = Histogram(
    "synapse_http_server_request_duration_seconds",
    "Time to answer an HTTP request",
    ["servlet", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

CORS_HEADERS = {
    b"Access-Control-Allow-Origin": b"*",
    b"Access-Control-Allow-Methods": b"GET, HEAD, POST, PUT, DELETE, OPTIONS",
    b"Access-Control-Allow-Headers": b"X-Requested-With, Content-Type, Authorization, Date",
    b"Access-Control-Expose-Headers": b"ETag, Content-Disposition",
}


class JsonResource(Resource):
    """Dispatches every request below it by regex to registered handlers."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self._routes: list[tuple[Pattern[str], dict[str, tuple[Handler, str]]]] = []

    def register_paths(self, method: str, patterns: list[Pattern[str]], handler: Handler, servlet_name: str) -> None:
        for pattern in patterns:
            for existing_pattern, methods in self._routes:
                if existing_pattern.pattern == pattern.pattern:
                    methods[method] = (handler, servlet_name)
                    break
            else:
                self._routes.append((pattern, {method: (handler, servlet_name)}))

    def render(self, request: Request) -> Any:
        defer.ensureDeferred(self._handle(request))
        return NOT_DONE_YET

    def _match(self, request: Request) -> tuple[Optional[Handler], str, dict[str, str]]:
        path = request.path.decode("ascii", errors="replace")
        method = request.method.decode("ascii", errors="replace")
        if method == "HEAD":
            method = "GET"
        path_matched = False
        for pattern, methods in self._routes:
            m = pattern.match(path)
            if not m:
                continue
            path_matched = True
            if method in methods:
                handler, name = methods[method]
                args = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items() if v is not None}
                return handler, name, args
        if method == "OPTIONS":
            return _options_handler, "OptionsServlet", {}
        if path_matched:
            raise UnrecognizedRequestError(405, "Unrecognized request: method not allowed")
        raise UnrecognizedRequestError(404, "Unrecognized request")

    async def _handle(self, request: Request) -> None:
        start = time.perf_counter()
        servlet_name = "unknown"
        method = request.method.decode("ascii", errors="replace")
        try:
            handler, servlet_name, args = self._match(request)
            code, body = await handler(request, **args)
        except SynapseError as e:
            if e.code >= 500:
                logger.error("%s %s failed: %s", method, _safe_path(request), e.msg)
            code, body = e.code, e.error_dict()
            for name, value in (e.headers or {}).items():
                request.setHeader(name, value)
        except Exception:
            logger.exception("Unhandled error serving %s %s", method, _safe_path(request))
            code, body = 500, {"errcode": Codes.UNKNOWN, "error": "Internal server error"}
        requests_counter.labels(servlet_name, method, str(code)).inc()
        request_latency.labels(servlet_name, method).observe(time.perf_counter() - start)
        respond_with_json(request, code, body)


async def _options_handler(request: Request) -> tuple[int, Any]:
    return 200, {}


def respond_with_json(request: Request, code: int, body: Any) -> None:
    """Writes a JSON response unless the client has gone away."""
    if request._disconnected or request.finished:  # type: ignore[attr-defined]
        return
    if isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Cache-Control", b"no-cache, no-store, must-revalidate")
    for name, value in CORS_HEADERS.items():
        request.setHeader(name, value)
    request.setHeader(b"Content-Length", str(len(payload)).encode("ascii"))
    if request.method != b"HEAD":
        request.write(payload)
    request.finish()


def _safe_path(request: Request) -> str:
    """The request path with any access_token query parameter masked."""
    uri = request.uri.decode("ascii", errors="replace")
    return re.sub(r"access_token=[^&]*", "access_token=<redacted>", uri)
