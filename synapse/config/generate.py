"""Writing a fresh config (`--generate-config`) and its companion files.

The generated homeserver.yaml is deliberately short: the settings a new
server needs, with secrets filled in. homeserver.yaml.example documents
every option. Companion files (signing key, log config, registration
secret file) are created only where missing, never overwritten.
"""

import os
import secrets
import string
from typing import Any, Optional

import yaml
from signedjson.key import generate_signing_key, write_signing_keys

from synapse.config.key import default_signing_key_path
from synapse.config.logger import default_log_file, generate_log_config_text

_KEY_ID_ALPHABET = string.ascii_letters + string.digits


def random_secret(length: int = 50) -> str:
    """A printable secret, safe to put in YAML unquoted."""
    alphabet = string.ascii_letters + string.digits + "-_.~"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_signing_key_id() -> str:
    """Synapse's key id shape: "a_" followed by four random characters."""
    return "a_" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(4))


def write_new_signing_key(path: str) -> None:
    """Create `path` holding one new ed25519 key (`ed25519 <id> <seed>`)."""
    key = generate_signing_key(new_signing_key_id())
    # the key file is a secret: create it readable by the owner only
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        write_signing_keys(f, [key])


def generate_config_text(
    server_name: str,
    config_dir: str,
    data_dir: str,
    report_stats: bool,
    open_private_ports: bool = False,
) -> str:
    """The YAML text of a new homeserver.yaml for `server_name`."""
    bind = ["::", "0.0.0.0"] if open_private_ports else ["::1", "127.0.0.1"]
    config: dict[str, Any] = {
        "server_name": server_name,
        "pid_file": os.path.join(data_dir, "homeserver.pid"),
        "listeners": [
            {
                "port": 8008,
                "tls": False,
                "type": "http",
                "x_forwarded": True,
                "bind_addresses": bind,
                "resources": [{"names": ["client", "federation"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": os.path.join(data_dir, "homeserver.db")}},
        "log_config": os.path.join(config_dir, f"{server_name}.log.config"),
        "media_store_path": os.path.join(data_dir, "media_store"),
        "registration_shared_secret": random_secret(),
        "report_stats": report_stats,
        "macaroon_secret_key": random_secret(),
        "form_secret": random_secret(),
        "signing_key_path": default_signing_key_path(config_dir, server_name),
        "trusted_key_servers": [{"server_name": "matrix.org"}],
    }
    header = (
        f"# Configuration file for the homeserver {server_name}.\n"
        "#\n"
        "# This holds the settings a new server needs. Every option is described in\n"
        "# homeserver.yaml.example and docs/config.md.\n\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def generate_missing_files(root: dict[str, Any], config_dir: str, data_dir: Optional[str] = None) -> list[str]:
    """Create the signing key, log config and registration secret file the
    config names but which do not exist yet. Returns the paths created."""
    created: list[str] = []
    server_name = root.get("server_name")
    key_path = root.get("signing_key_path")
    if not key_path and isinstance(server_name, str):
        key_path = default_signing_key_path(config_dir, server_name)
    if isinstance(key_path, str) and not os.path.exists(key_path):
        _ensure_parent(key_path)
        write_new_signing_key(key_path)
        created.append(key_path)

    log_config = root.get("log_config")
    if isinstance(log_config, str) and not os.path.exists(log_config):
        _ensure_parent(log_config)
        with open(log_config, "w", encoding="utf-8") as f:
            f.write(generate_log_config_text(default_log_file(data_dir or os.getcwd())))
        created.append(log_config)

    secret_path = root.get("registration_shared_secret_path")
    if isinstance(secret_path, str) and not os.path.exists(secret_path):
        _ensure_parent(secret_path)
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(random_secret() + "\n")
        created.append(secret_path)
    return created


def _ensure_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
