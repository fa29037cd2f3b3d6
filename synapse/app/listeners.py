"""Opening the configured listeners on the reactor.

Each http listener serves the HomeServer's resource for its names
(`hs.build_listener_resource`), plus `/health` on every listener and
`/_synapse/metrics` where the `metrics` resource is named. A `metrics`
listener serves Prometheus on every path but `/health`.
"""

import logging
import os
import stat
from typing import Any, Optional

from OpenSSL import SSL
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.web.resource import EncodingResourceWrapper, IResource, Resource, getChildForRequest
from twisted.web.server import GzipEncoderFactory, Request

from synapse.api.errors import ConfigError
from synapse.config.listeners import ListenerConfig
from synapse.http.site import DEFAULT_MAX_REQUEST_BODY_SIZE, SynapseSite

logger = logging.getLogger(__name__)

HEALTH_PATH = b"/health"
METRICS_PATH = b"/_synapse/metrics"


class HealthResource(Resource):
    """Answers 200 "OK": the process is up and serving HTTP."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-cache, no-store, must-revalidate")
        return b"OK"

    render_HEAD = render_GET


class ListenerRootResource(Resource):
    """Dispatches the paths every listener shares, else the HS resource.

    It is a leaf so it sees the full path before any traversal, then walks
    the wrapped resource exactly as a Site would.
    """

    isLeaf = True

    def __init__(
        self, base: Optional[IResource], metrics: Optional[IResource], metrics_on_every_path: bool = False
    ) -> None:
        super().__init__()
        self._base = base
        self._metrics = metrics
        self._metrics_on_every_path = metrics_on_every_path
        self._health = HealthResource()

    def render(self, request: Request) -> Any:
        if request.path == HEALTH_PATH:
            return self._health.render(request)
        if self._metrics is not None and (self._metrics_on_every_path or request.path == METRICS_PATH):
            return self._metrics.render(request)
        if self._base is None:
            request.setResponseCode(404)
            return b"Not found"
        return getChildForRequest(self._base, request).render(request)


class PemTlsContextFactory:
    """A server TLS context from PEM files: a certificate chain and its key."""

    def __init__(self, certificate_path: str, private_key_path: str) -> None:
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        try:
            ctx.use_certificate_chain_file(certificate_path)
        except SSL.Error as e:
            raise ConfigError(
                f"cannot load TLS certificate chain: {e}", ["tls_certificate_path"], certificate_path
            ) from None
        try:
            ctx.use_privatekey_file(private_key_path)
            ctx.check_privatekey()
        except SSL.Error as e:
            raise ConfigError(f"cannot load TLS private key: {e}", ["tls_private_key_path"], private_key_path) from None
        self._ctx = ctx

    def getContext(self) -> SSL.Context:
        return self._ctx


class PrometheusResource(Resource):
    """The default Prometheus registry in text format. Rendered on the
    reactor thread: collection takes milliseconds, and needs no thread pool."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode("ascii"))
        return generate_latest(REGISTRY)


def _metrics_resource() -> IResource:
    return PrometheusResource()


def build_listener_root(hs: Any, listener: ListenerConfig, enable_metrics: bool) -> IResource:
    """The root resource for one listener (exposed for tests)."""
    metrics: Optional[IResource] = None
    if listener.type == "metrics":
        return ListenerRootResource(None, _metrics_resource(), metrics_on_every_path=True)
    names = listener.resource_names
    if "metrics" in names:
        if enable_metrics:
            metrics = _metrics_resource()
        else:
            logger.warning("Listener %s names the metrics resource but enable_metrics is false", listener.site_tag)
    app_names = [n for n in names if n not in ("metrics", "health")]
    base = hs.build_listener_resource(app_names) if app_names else None
    root: IResource = ListenerRootResource(base, metrics)
    if listener.compress:
        root = EncodingResourceWrapper(root, [GzipEncoderFactory()])
    return root


def max_request_body_size(config: Any) -> int:
    """Bodies up to 200 KiB, or up to max_upload_size where media is served."""
    if config.worker.enable_media_repo:
        return max(DEFAULT_MAX_REQUEST_BODY_SIZE, config.media.max_upload_size)
    return DEFAULT_MAX_REQUEST_BODY_SIZE


def start_listeners(hs: Any, listeners: list[ListenerConfig], reactor: Any = None) -> list[IListeningPort]:
    """Listen on every http and metrics listener; return the open ports.

    Reads TLS file paths and enable_metrics from `hs.config`.
    """
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    config = hs.config
    ports: list[IListeningPort] = []
    for listener in listeners:
        if listener.type == "manhole":
            logger.warning("Not starting manhole listener on port %s: unsupported", listener.port)
            continue
        if listener.type == "metrics" and not config.metrics.enable_metrics:
            logger.warning("Not starting metrics listener on port %s: enable_metrics is false", listener.port)
            continue
        root = build_listener_root(hs, listener, config.metrics.enable_metrics)
        site = SynapseSite(
            root,
            listener.site_tag,
            x_forwarded=listener.x_forwarded,
            tls=listener.tls,
            max_request_body_size=max_request_body_size(config),
        )
        tls_ctx = None
        if listener.tls:
            tls_ctx = PemTlsContextFactory(config.server.tls_certificate_path, config.server.tls_private_key_path)
        if listener.path is not None:
            ports.append(_listen_unix(reactor, listener, site))
        else:
            ports.extend(_listen_tcp(reactor, listener, site, tls_ctx))
        logger.info(
            "Listening (%s) on %s for %s",
            listener.type,
            listener.path or f"port {listener.port} of {', '.join(listener.bind_addresses)}",
            ", ".join(listener.resource_names) or "metrics",
        )
    return ports


def _listen_tcp(reactor: Any, listener: ListenerConfig, site: SynapseSite, tls_ctx: Any) -> list[IListeningPort]:
    ports: list[IListeningPort] = []
    for address in listener.bind_addresses:
        try:
            if tls_ctx is not None:
                ports.append(reactor.listenSSL(listener.port, site, tls_ctx, interface=address))
            else:
                ports.append(reactor.listenTCP(listener.port, site, interface=address))
        except CannotListenError as e:
            # On dual-stack hosts "::" already covers IPv4, so the
            # 0.0.0.0 bind fails with "address in use": harmless.
            if address == "0.0.0.0" and "::" in listener.bind_addresses and ports:
                logger.info("Not binding 0.0.0.0:%s separately: '::' covers IPv4 here (%s)", listener.port, e)
                continue
            raise
    return ports


def _listen_unix(reactor: Any, listener: ListenerConfig, site: SynapseSite) -> IListeningPort:
    assert listener.path is not None
    try:
        if stat.S_ISSOCK(os.stat(listener.path).st_mode):
            # a socket left behind by a previous run would block the bind
            os.unlink(listener.path)
    except FileNotFoundError:
        pass
    return reactor.listenUNIX(listener.path, site, mode=listener.mode)
