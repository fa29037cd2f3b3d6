"""The `key` section: our signing keys, secrets derived for tokens, and
which notary servers we trust for other servers' keys."""

import hashlib
import logging
import os
from typing import Optional

import attrs
from signedjson.key import (
    NACL_ED25519,
    SigningKey,
    decode_verify_key_base64,
    is_signing_algorithm_supported,
    read_signing_keys,
)
from signedjson.types import VerifyKey

from synapse.config._base import Node, ParseContext

logger = logging.getLogger(__name__)

KEYS = frozenset(
    {
        "signing_key_path",
        "macaroon_secret_key",
        "form_secret",
        "trusted_key_servers",
        "suppress_key_server_warning",
        "key_refresh_interval",
    }
)

DEFAULT_TRUSTED_KEY_SERVERS = [{"server_name": "matrix.org"}]


def default_signing_key_path(config_dir: str, server_name: str) -> str:
    return os.path.join(config_dir, f"{server_name}.signing.key")


@attrs.frozen
class TrustedKeyServer:
    server_name: str
    # key id -> verify key; None means accept whatever keys it presents
    verify_keys: Optional[dict[str, VerifyKey]] = None


@attrs.frozen
class KeyConfig:
    signing_key_path: str
    signing_key: list[SigningKey]
    macaroon_secret_key: str
    form_secret: Optional[str]
    trusted_key_servers: list[TrustedKeyServer]
    suppress_key_server_warning: bool
    key_refresh_interval_ms: int

    @classmethod
    def parse(cls, ctx: ParseContext) -> "KeyConfig":
        root = ctx.root
        server_name = root["server_name"].as_str("")
        path_node = root["signing_key_path"]
        path = path_node.as_str(None) or default_signing_key_path(ctx.config_dir, server_name)
        signing_keys = _load_signing_keys(path_node, path)

        macaroon = root["macaroon_secret_key"].as_str(None)
        if macaroon is None:
            # Synapse's fallback: derive a stable secret from the signing key
            seed = signing_keys[0].encode()
            macaroon = hashlib.sha256(b"synapse_macaroon_secret_key" + seed).hexdigest()

        servers_node = root["trusted_key_servers"]
        if servers_node.present:
            servers = [_parse_trusted_server(n) for n in servers_node.elements()]
        else:
            servers = [_parse_trusted_server(Node(s, ("trusted_key_servers", 0))) for s in DEFAULT_TRUSTED_KEY_SERVERS]
        suppress = root["suppress_key_server_warning"].as_bool(False)
        if not suppress and any(s.server_name == "matrix.org" for s in servers):
            logger.warning(
                "This server trusts matrix.org as a notary for other servers' signing keys "
                "(trusted_key_servers). Set suppress_key_server_warning: true to silence this."
            )
        return cls(
            signing_key_path=path,
            signing_key=signing_keys,
            macaroon_secret_key=macaroon,
            form_secret=root["form_secret"].as_str(None),
            trusted_key_servers=servers,
            suppress_key_server_warning=suppress,
            key_refresh_interval_ms=root["key_refresh_interval"].duration_ms(24 * 60 * 60 * 1000),
        )


def _load_signing_keys(node: Node, path: str) -> list[SigningKey]:
    try:
        with open(path, encoding="utf-8") as f:
            keys = read_signing_keys(f)
    except FileNotFoundError:
        raise node.error(
            f"signing key file {path} does not exist; run with --generate-keys to create it"
        ) from None
    except OSError as e:
        raise node.error(f"cannot read signing key file {path}: {e.strerror}") from None
    except Exception as e:
        raise node.error(f"signing key file {path} is malformed: {e}") from None
    if not keys:
        raise node.error(f"signing key file {path} holds no keys")
    return list(keys)


def _parse_trusted_server(node: Node) -> TrustedKeyServer:
    node.mapping()
    name = node["server_name"].required().as_str()
    verify_keys: Optional[dict[str, VerifyKey]] = None
    keys_node = node["verify_keys"]
    if keys_node.present:
        verify_keys = {}
        for key_id, key_node in keys_node.items():
            if not is_signing_algorithm_supported(key_id):
                raise key_node.error(f"unsupported key algorithm in key id {key_id!r}")
            _, version = key_id.split(":", 1)
            try:
                verify_keys[key_id] = decode_verify_key_base64(NACL_ED25519, version, key_node.required().as_str())
            except Exception as e:
                raise key_node.error(f"invalid verify key: {e}") from None
    return TrustedKeyServer(server_name=name, verify_keys=verify_keys)
