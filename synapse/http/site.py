"""The Twisted site behind each HTTP listener, and its request class.

`SynapseRequest` knows the real client address (from X-Forwarded-For when
the listener sits behind a reverse proxy with `x_forwarded: true`) and logs
one access line when the response is done: client, method, path with any
access_token redacted, status, duration, bytes sent, user agent.
"""

import json
import logging
import re
import time
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

import synapse
from synapse.api.errors import Codes

logger = logging.getLogger(__name__)

_ACCESS_TOKEN_RE = re.compile(rb"(\baccess_token=)[^&]*")
# request bodies beyond this are refused unless the site allows more (media uploads)
DEFAULT_MAX_REQUEST_BODY_SIZE = 200 * 1024
SERVER_HEADER = f"Synapse/{synapse.__version__}".encode()


def redact_uri(uri: bytes) -> str:
    """The URI as text with any access_token query value replaced."""
    return _ACCESS_TOKEN_RE.sub(rb"\1<redacted>", uri).decode("ascii", "replace")


class SynapseRequest(Request):
    """A request that knows its client IP and logs itself when done."""

    site: "SynapseSite"

    def __init__(self, channel: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(channel, *args, **kwargs)
        self.start_time = time.monotonic()
        self._access_logged = False
        self._body_too_large = False

    def _trusts_forwarded_headers(self) -> bool:
        site = getattr(self, "site", None)
        return bool(site is not None and site.x_forwarded)

    @property
    def client_ip(self) -> str:
        """The client's IP, or "-" when unknown (e.g. UNIX socket without proxy)."""
        if self._trusts_forwarded_headers():
            forwarded = self.requestHeaders.getRawHeaders(b"x-forwarded-for")
            if forwarded:
                # leftmost entry: the original client, as the proxy reports it
                return forwarded[0].split(b",")[0].strip().decode("ascii", "replace")
        peer = super().getClientAddress()
        if isinstance(peer, (IPv4Address, IPv6Address)):
            return peer.host
        return "-"

    def getClientAddress(self) -> IAddress:
        peer = super().getClientAddress()
        if self._trusts_forwarded_headers():
            ip = self.client_ip
            if ip != "-":
                return (IPv6Address if ":" in ip else IPv4Address)("TCP", ip, 0)
        return peer

    def isSecure(self) -> bool:
        if self._trusts_forwarded_headers():
            proto = self.requestHeaders.getRawHeaders(b"x-forwarded-proto")
            if proto:
                return proto[0].strip().lower() == b"https"
        return super().isSecure()

    def handleContentChunk(self, data: bytes) -> None:
        # Refuse bodies larger than the site allows before buffering them all
        if self._body_too_large:
            return
        if self.content.tell() + len(data) > self.channel.site.max_request_body_size:
            logger.warning(
                "Aborting request from %s: body exceeds %d bytes (%s %s)",
                self.client_ip,
                self.channel.site.max_request_body_size,
                self.method.decode("ascii", "replace"),
                redact_uri(self.uri),
            )
            self._body_too_large = True
            self._refuse_too_large()
            return
        super().handleContentChunk(data)

    def _refuse_too_large(self) -> None:
        """Answers 413 M_TOO_LARGE straight away and closes the connection.

        The body is still arriving, so Twisted's response machinery (which
        expects a complete request) is bypassed: the answer is written raw.
        """
        body = json.dumps({"errcode": Codes.TOO_LARGE, "error": "Request body too large"}).encode()
        head = (
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        self.channel.transport.write(head + body)
        self.channel.transport.loseConnection()

    def process(self) -> None:
        # the connection is being closed: never act on a truncated body
        if not self._body_too_large:
            super().process()

    def finish(self) -> None:
        super().finish()
        self._log_access()

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        self._log_access(dropped=True)

    def _log_access(self, dropped: bool = False) -> None:
        site = getattr(self, "site", None)
        if self._access_logged or site is None:
            return
        self._access_logged = True
        duration = time.monotonic() - self.start_time
        user_agent = (self.requestHeaders.getRawHeaders(b"user-agent") or [b"-"])[-1]
        site.access_logger.info(
            "%s - %s - %.3fsec %sB %s \"%s %s %s\" \"%s\"",
            self.client_ip,
            site.site_tag,
            duration,
            self.sentLength,
            "dropped" if dropped and not self.finished else self.code,
            self.method.decode("ascii", "replace"),
            redact_uri(self.uri),
            self.clientproto.decode("ascii", "replace"),
            user_agent.decode("ascii", "replace"),
        )


class SynapseSite(Site):
    """A site for one listener: its tag for logs and whether to trust
    X-Forwarded-* headers."""

    requestFactory = SynapseRequest

    def __init__(
        self,
        resource: IResource,
        site_tag: str,
        x_forwarded: bool = False,
        tls: bool = False,
        max_request_body_size: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
    ) -> None:
        super().__init__(resource)
        self.site_tag = site_tag
        self.x_forwarded = x_forwarded
        self.max_request_body_size = max_request_body_size
        scheme = "https" if tls else "http"
        self.access_logger = logging.getLogger(f"synapse.access.{scheme}.{site_tag}")
        # Twisted logs each request itself; we log our own access line instead
        self.noisy = False

    def log(self, request: Request) -> None:
        pass

    def getResourceFor(self, request: Request) -> IResource:
        request.setHeader(b"Server", SERVER_HEADER)
        return super().getResourceFor(request)
