"""The main process: `synapse_homeserver -c homeserver.yaml`.

Also `--generate-config --server-name NAME -c FILE --report-stats=no` to
write a new config, and `--generate-keys` to create missing companion files.
"""

import sys
from typing import Optional

from synapse.app._base import run_main


def main(argv: Optional[list[str]] = None) -> None:
    sys.exit(run_main(argv, description="Matrix homeserver (main process)", worker=False))


if __name__ == "__main__":
    main()
