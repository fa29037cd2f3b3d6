"""`generate_signing_key`: write a new server signing key.

Output is Synapse's key file format, one line: `ed25519 <key id> <seed>`.
"""

import argparse
import sys
from typing import Optional

from signedjson.key import generate_signing_key, write_signing_keys

from synapse.config.generate import new_signing_key_id


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Generate a new ed25519 server signing key.")
    parser.add_argument(
        "-o",
        "--output_file",
        type=argparse.FileType("w"),
        default=sys.stdout,
        help="Where to write the output to (default: stdout)",
    )
    args = parser.parse_args(argv)
    write_signing_keys(args.output_file, (generate_signing_key(new_signing_key_id()),))
    args.output_file.flush()


if __name__ == "__main__":
    main()
