"""Listener definitions, shared by `listeners` (main) and `worker_listeners`.

A listener is a TCP port (on one or more bind addresses) or a UNIX socket
path, of type `http` (serving named resources), `metrics` (Prometheus) or
`manhole` (accepted for compatibility, not served).
"""

import logging
from typing import Optional

import attrs

from synapse.config._base import Node

logger = logging.getLogger(__name__)

LISTENER_TYPES = ("http", "metrics", "manhole")

# Resource names an http listener can serve. `static` and `consent` are
# accepted for compatibility with Synapse configs.
KNOWN_RESOURCES = frozenset(
    {"client", "federation", "keys", "media", "metrics", "health", "replication", "openid", "static", "consent"}
)

DEFAULT_BIND_ADDRESSES = ("::", "0.0.0.0")


@attrs.frozen
class HttpResourceConfig:
    names: list[str]
    compress: bool = False


@attrs.frozen
class ListenerConfig:
    type: str
    port: Optional[int] = None
    bind_addresses: list[str] = attrs.Factory(list)
    # a UNIX socket path instead of a TCP port, and its file mode
    path: Optional[str] = None
    mode: int = 0o666
    tls: bool = False
    x_forwarded: bool = False
    resources: list[HttpResourceConfig] = attrs.Factory(list)
    # log label for the access log; defaults to the port or socket path
    tag: Optional[str] = None
    request_id_header: Optional[str] = None

    @property
    def resource_names(self) -> list[str]:
        """Every resource name across the listener's resource groups, in order."""
        seen: list[str] = []
        for res in self.resources:
            for name in res.names:
                if name not in seen:
                    seen.append(name)
        return seen

    @property
    def compress(self) -> bool:
        return any(res.compress for res in self.resources)

    @property
    def site_tag(self) -> str:
        return self.tag or (str(self.port) if self.port is not None else str(self.path))


def parse_listener(node: Node) -> ListenerConfig:
    """Parse one entry of `listeners` / `worker_listeners`."""
    node.mapping()
    listener_type = node["type"].required().choice(LISTENER_TYPES)
    port = node["port"].as_int(None, minimum=0, maximum=65535)
    path = node["path"].as_str(None)
    if port is None and path is None:
        raise node.error("a listener needs a 'port' or a 'path' (UNIX socket)")
    if port is not None and path is not None:
        raise node.error("a listener takes either 'port' or 'path', not both")
    if path is not None and listener_type != "http":
        raise node["path"].error("only http listeners can listen on a UNIX socket")

    bind_addresses = node["bind_addresses"].str_list([], allow_single=True)
    legacy_bind = node["bind_address"].as_str(None)
    if legacy_bind is not None:
        bind_addresses.append(legacy_bind)
    if not bind_addresses and path is None:
        bind_addresses = list(DEFAULT_BIND_ADDRESSES)

    mode_node = node["mode"]
    mode = 0o666
    if mode_node.present:
        # YAML reads 0o666 / 666 differently; accept an int or an octal string
        raw = mode_node.value
        try:
            mode = int(raw, 8) if isinstance(raw, str) else int(raw)
        except ValueError:
            raise mode_node.error(f"expected an octal file mode like '666', got {raw!r}") from None

    resources: list[HttpResourceConfig] = []
    for res_node in node["resources"].elements():
        res_node.mapping()
        names = res_node["names"].str_list([], allow_single=True)
        for name in names:
            if name not in KNOWN_RESOURCES:
                logger.warning(
                    "Listener resource %r at %s is not known and will not be served",
                    name,
                    ".".join(str(p) for p in res_node.path),
                )
        resources.append(
            HttpResourceConfig(
                names=[n for n in names if n in KNOWN_RESOURCES],
                compress=res_node["compress"].as_bool(False),
            )
        )

    if listener_type == "manhole":
        logger.warning("Manhole listener on port %s is not supported and will not be started", port)

    return ListenerConfig(
        type=listener_type,
        port=port,
        bind_addresses=bind_addresses,
        path=path,
        mode=mode,
        tls=node["tls"].as_bool(False),
        x_forwarded=node["x_forwarded"].as_bool(False),
        resources=resources,
        tag=node["tag"].as_str(None),
        request_id_header=node["request_id_header"].as_str(None),
    )


def parse_listeners(node: Node) -> list[ListenerConfig]:
    return [parse_listener(n) for n in node.elements()]
