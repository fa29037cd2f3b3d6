"""Tell systemd (or any supervisor speaking its protocol) how we are doing.

With `Type=notify`, systemd waits for "READY=1" on the datagram socket named
by $NOTIFY_SOCKET before it considers the service started. A name starting
with '@' is a Linux abstract socket.
"""

import logging
import os
import socket
from typing import Union

logger = logging.getLogger(__name__)


def sdnotify(state: Union[str, bytes]) -> bool:
    """Send `state` (e.g. "READY=1", "STOPPING=1") to $NOTIFY_SOCKET.

    Returns False if no socket is configured or sending failed; failures are
    logged but never raised, since notification is advisory.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    payload = state.encode("utf-8") if isinstance(state, str) else state
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(payload)
    except OSError as e:
        logger.warning("Could not send %r to NOTIFY_SOCKET %s: %s", payload, os.environ["NOTIFY_SOCKET"], e)
        return False
    return True
