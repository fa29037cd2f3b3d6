"""The `server` section: identity, listeners, room version defaults, TLS files."""

import logging
import re
from typing import Optional

import attrs

from synapse.config._base import ParseContext
from synapse.config.listeners import ListenerConfig, parse_listeners
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

logger = logging.getLogger(__name__)

DEFAULT_ROOM_VERSION = "12"
DEFAULT_MAX_UPLOAD_SIZE = 50 * 1024 * 1024

# https://spec.matrix.org/latest/appendices/#server-name
_SERVER_NAME_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9\-.]{1,255})(?::[0-9]{1,5})?$"
)

KEYS = frozenset(
    {
        "server_name",
        "public_baseurl",
        "pid_file",
        "listeners",
        "default_room_version",
        "report_stats",
        "tls_certificate_path",
        "tls_private_key_path",
        "serve_server_wellknown",
        "allow_public_rooms_without_auth",
        "allow_public_rooms_over_federation",
        "require_auth_for_profile_requests",
        "limit_profile_requests_to_users_who_share_rooms",
    }
)


@attrs.frozen
class ServerConfig:
    server_name: str
    public_baseurl: str
    pid_file: Optional[str]
    listeners: list[ListenerConfig]
    default_room_version: RoomVersion
    report_stats: bool
    max_upload_size: int
    tls_certificate_path: Optional[str]
    tls_private_key_path: Optional[str]
    serve_server_wellknown: bool
    allow_public_rooms_without_auth: bool
    allow_public_rooms_over_federation: bool
    require_auth_for_profile_requests: bool
    limit_profile_requests_to_users_who_share_rooms: bool

    @classmethod
    def parse(cls, ctx: ParseContext) -> "ServerConfig":
        root = ctx.root
        name_node = root["server_name"].required()
        server_name = name_node.as_str()
        if not _SERVER_NAME_RE.match(server_name):
            raise name_node.error(f"{server_name!r} is not a valid server name (host or host:port)")

        public_baseurl = root["public_baseurl"].as_str(None) or f"https://{server_name}/"
        if not public_baseurl.endswith("/"):
            public_baseurl += "/"

        version_node = root["default_room_version"]
        version_id = version_node.as_str(DEFAULT_ROOM_VERSION)
        if version_id not in KNOWN_ROOM_VERSIONS:
            raise version_node.error(
                f"unknown room version {version_id!r}; known versions: {', '.join(KNOWN_ROOM_VERSIONS)}"
            )

        listeners = parse_listeners(root["listeners"])
        cert = root["tls_certificate_path"].as_str(None)
        key = root["tls_private_key_path"].as_str(None)
        for listener_node, listener in zip(root["listeners"].elements(), listeners):
            if listener.tls and not (cert and key):
                raise listener_node["tls"].error(
                    "tls is enabled but tls_certificate_path and tls_private_key_path are not both set"
                )

        return cls(
            server_name=server_name,
            public_baseurl=public_baseurl,
            pid_file=root["pid_file"].as_str(None),
            listeners=listeners,
            default_room_version=KNOWN_ROOM_VERSIONS[version_id],
            report_stats=root["report_stats"].required().as_bool(),
            max_upload_size=root["max_upload_size"].size(DEFAULT_MAX_UPLOAD_SIZE),
            tls_certificate_path=cert,
            tls_private_key_path=key,
            serve_server_wellknown=root["serve_server_wellknown"].as_bool(False),
            allow_public_rooms_without_auth=root["allow_public_rooms_without_auth"].as_bool(False),
            allow_public_rooms_over_federation=root["allow_public_rooms_over_federation"].as_bool(False),
            require_auth_for_profile_requests=root["require_auth_for_profile_requests"].as_bool(False),
            limit_profile_requests_to_users_who_share_rooms=root[
                "limit_profile_requests_to_users_who_share_rooms"
            ].as_bool(False),
        )
