"""`register_new_matrix_user`: create a user with the registration shared secret.

Works while public registration is off: it fetches a nonce from
`GET /_synapse/admin/v1/register`, then POSTs the user with an HMAC-SHA1
over `nonce NUL user NUL password NUL admin|notadmin [NUL user_type]` keyed
by the shared secret (from `-k`, or from `-c` config files).
"""

import argparse
import getpass
import hashlib
import hmac
import json
import sys
import urllib.error
import urllib.request
from typing import Any, Optional, TextIO

import yaml

DEFAULT_SERVER_URL = "http://localhost:8008"
REGISTER_PATH = "/_synapse/admin/v1/register"


class RegistrationFailed(Exception):
    """The server refused or could not be reached; the message says why."""


def compute_mac(
    shared_secret: str, nonce: str, user: str, password: str, admin: bool, user_type: Optional[str] = None
) -> str:
    """The hex HMAC-SHA1 the admin registration API checks."""
    fields = [nonce, user, password, "admin" if admin else "notadmin"]
    if user_type:
        fields.append(user_type)
    message = b"\x00".join(f.encode("utf-8") for f in fields)
    return hmac.new(shared_secret.encode("utf-8"), message, hashlib.sha1).hexdigest()


def _http_json(url: str, body: Optional[dict[str, Any]] = None) -> tuple[int, str, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, reason, raw = response.status, response.reason, response.read()
    except urllib.error.HTTPError as e:
        status, reason, raw = e.code, e.reason, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise RegistrationFailed(f"ERROR! Cannot reach {url}: {getattr(e, 'reason', e)}") from None
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {}
    return status, str(reason), parsed if isinstance(parsed, dict) else {}


def request_registration(
    user: str,
    password: str,
    server_url: str,
    shared_secret: str,
    admin: bool = False,
    user_type: Optional[str] = None,
    exists_ok: bool = False,
) -> str:
    """Register the user; return the message to show. Raises RegistrationFailed."""
    url = server_url.rstrip("/") + REGISTER_PATH
    status, reason, body = _http_json(url)
    if status != 200 or "nonce" not in body:
        raise RegistrationFailed(_describe_failure(status, reason, body))
    nonce = str(body["nonce"])
    payload = {
        "nonce": nonce,
        "username": user,
        "password": password,
        "mac": compute_mac(shared_secret, nonce, user, password, admin, user_type),
        "admin": admin,
        "user_type": user_type,
    }
    print("Sending registration request...")
    status, reason, body = _http_json(url, payload)
    if status != 200:
        if exists_ok and body.get("errcode") == "M_USER_IN_USE":
            return "User already exists. Skipping."
        raise RegistrationFailed(_describe_failure(status, reason, body))
    return "Success!"


def _describe_failure(status: int, reason: str, body: dict[str, Any]) -> str:
    message = f"ERROR! Received {status} {reason}"
    if 400 <= status < 500 and body.get("error"):
        message += f"\n{body['error']}"
    return message


def _read_config_files(files: list[TextIO]) -> dict[str, Any]:
    """Shallow-merge config files in order, as the server does."""
    merged: dict[str, Any] = {}
    for f in files:
        content = yaml.safe_load(f)
        if isinstance(content, dict):
            merged.update(content)
        else:
            print(f"Ignoring {f.name}: it does not hold a mapping", file=sys.stderr)
    return merged


def _read_text_file(path: Any, what: str) -> str:
    if not isinstance(path, str):
        raise SystemExit(f"{what} must be a file path")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise SystemExit(f"Error accessing file {path}: {e.strerror}") from None


def _secret_from_config(config: dict[str, Any]) -> str:
    secret = config.get("registration_shared_secret")
    secret_path = config.get("registration_shared_secret_path")
    if secret_path:
        if secret:
            raise SystemExit(
                "Both registration_shared_secret and registration_shared_secret_path are set in the config."
            )
        secret = _read_text_file(secret_path, "registration_shared_secret_path").strip()
    if not secret:
        raise SystemExit("The config sets neither registration_shared_secret nor registration_shared_secret_path.")
    return str(secret)


def find_client_listener_url(config: dict[str, Any]) -> Optional[str]:
    """http://localhost:PORT of the first plain http listener serving `client`."""
    for listener in config.get("listeners") or []:
        if not isinstance(listener, dict) or listener.get("type") != "http" or listener.get("tls"):
            continue
        names = [n for res in listener.get("resources") or [] for n in (res.get("names") or [])]
        if "client" in names and listener.get("port") is not None:
            return f"http://localhost:{listener['port']}"
    return None


def _ask_user() -> str:
    try:
        default_user: Optional[str] = getpass.getuser()
    except Exception:
        default_user = None
    if default_user:
        return input(f"New user localpart [{default_user}]: ") or default_user
    return input("New user localpart: ")


def _ask_password() -> str:
    password = getpass.getpass("Password: ")
    if not password:
        raise SystemExit("Password cannot be blank.")
    if getpass.getpass("Confirm password: ") != password:
        raise SystemExit("Passwords do not match")
    return password


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Register a user on a homeserver through its shared-secret registration API, "
        "which works even when public registration is disabled. The server must set "
        "registration_shared_secret (or registration_shared_secret_path)."
    )
    parser.add_argument("-u", "--user", default=None, help="Localpart of the new user. Prompted for if omitted.")
    parser.add_argument("--exists-ok", action="store_true", help="Succeed if the user already exists.")
    password = parser.add_mutually_exclusive_group()
    password.add_argument("-p", "--password", default=None, help="The new user's password. Prompted for if omitted.")
    password.add_argument("--password-file", default=None, help="A file holding the new user's password.")
    parser.add_argument("-t", "--user_type", default=None, help="User type, e.g. 'bot' or 'support'.")
    admin = parser.add_mutually_exclusive_group()
    admin.add_argument("-a", "--admin", action="store_true", help="Make the user a server admin.")
    admin.add_argument("--no-admin", action="store_true", help="Make the user a regular user.")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument(
        "-c",
        "--config",
        action="append",
        type=argparse.FileType("r"),
        help="Server config file to read the shared secret (and a client listener) from. Repeatable.",
    )
    secret.add_argument("-k", "--shared-secret", help="The registration shared secret.")
    parser.add_argument(
        "server_url",
        nargs="?",
        help=f"Homeserver URL. Default: the config's client listener, else {DEFAULT_SERVER_URL}.",
    )
    return parser


def main(argv: Optional[list[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    config = _read_config_files(args.config) if args.config else None

    secret = args.shared_secret if args.shared_secret else _secret_from_config(config or {})
    password = (
        _read_text_file(args.password_file, "--password-file").strip() if args.password_file else args.password
    )

    if args.server_url:
        server_url = args.server_url
    else:
        server_url = (find_client_listener_url(config) if config else None) or DEFAULT_SERVER_URL
        if config is None or server_url == DEFAULT_SERVER_URL:
            print(f"No client listener found; trying {server_url}.", file=sys.stderr)

    user = args.user or _ask_user()
    if not user:
        raise SystemExit("Invalid user name")
    if not password:
        password = _ask_password()
    if args.admin or args.no_admin:
        make_admin = bool(args.admin)
    else:
        make_admin = input("Make admin [no]: ").strip().lower() in ("y", "yes", "true")

    try:
        print(request_registration(user, password, server_url, secret, make_admin, args.user_type, args.exists_ok))
    except RegistrationFailed as e:
        print(str(e), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
