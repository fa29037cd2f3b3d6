"""`hash_password`: print the bcrypt hash of a password, as stored for users.

Reads `bcrypt_rounds` and `password_config.pepper` from `-c CONFIG` (else
12 rounds, no pepper). The password comes from `-p`, else from stdin when
it is not a terminal, else from a prompt asked twice.
"""

import argparse
import getpass
import sys
import unicodedata
from typing import Optional

import bcrypt
import yaml

DEFAULT_BCRYPT_ROUNDS = 12


def hash_password(password: str, rounds: int = DEFAULT_BCRYPT_ROUNDS, pepper: str = "") -> str:
    """bcrypt over the NFKC-normalised password plus pepper, like Synapse's
    login check, so the hash verifies there."""
    secret = unicodedata.normalize("NFKC", password) + pepper
    return bcrypt.hashpw(secret.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def _prompt_for_password() -> str:
    password = getpass.getpass("Password: ")
    if not password:
        raise SystemExit("Password cannot be blank.")
    if getpass.getpass("Confirm password: ") != password:
        raise SystemExit("Passwords do not match.")
    return password


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description="Calculate the hash of a new password, so that passwords can be reset"
    )
    parser.add_argument(
        "-p", "--password", default=None, help="New password for user. Will prompt for a password if not given."
    )
    parser.add_argument(
        "-c",
        "--config",
        type=argparse.FileType("r"),
        help="Path to server config file. Used to read in bcrypt_rounds and password_config.pepper.",
    )
    args = parser.parse_args(argv)

    rounds, pepper = DEFAULT_BCRYPT_ROUNDS, ""
    if args.config:
        config = yaml.safe_load(args.config) or {}
        rounds = int(config.get("bcrypt_rounds", DEFAULT_BCRYPT_ROUNDS))
        pepper = str((config.get("password_config") or {}).get("pepper") or "")

    password = args.password
    if password is None:
        if sys.stdin.isatty():
            password = _prompt_for_password()
        else:
            password = sys.stdin.readline().rstrip("\r\n")
    print(hash_password(password, rounds, pepper))


if __name__ == "__main__":
    main()
