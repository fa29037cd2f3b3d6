"""A worker process: `synapse_worker -c shared.yaml -c worker.yaml`.

The worker config sets `worker_app: synapse.app.generic_worker` and
`worker_name`; what the worker does follows from the shared config (see
synapse/config/workers.py). It listens on `worker_listeners`, logs with
`worker_log_config` and writes `worker_pid_file`.

At start it checks the database schema (it never creates or upgrades it:
an empty or outdated database stops it with one line saying to start the
main process first), joins the replication bus (Redis), and serves the
routes the endpoint table lets generic workers serve, plus, on its
`replication` listener, the replication calls of the streams it writes
(see synapse/server.py).
"""

import sys
from typing import Optional

from synapse.app._base import run_main


def main(argv: Optional[list[str]] = None) -> None:
    sys.exit(run_main(argv, description="Matrix homeserver worker", worker=True))


if __name__ == "__main__":
    main()
