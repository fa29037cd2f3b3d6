"""The deployments the e2ee API tests run against: a monolith on SQLite, a
monolith on PostgreSQL, and a worker deployment behind nginx
(tests/support/topology.py). Tests use only `base_url` and `server_name`."""

from typing import Iterator, Union

import pytest

from tests.accounts.client import FAST_BCRYPT, start_accounts_homeserver
from tests.support.homeserver import Homeserver
from tests.support.topology import Topology, start_topology

DEPLOYMENTS = ["sqlite", "postgres", "workers"]
Deployment = Union[Homeserver, Topology]


def deployment_fixture(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Body of a module-scoped fixture parametrized over DEPLOYMENTS."""
    server: Deployment
    if request.param == "workers":
        server = start_topology(config_overrides=dict(FAST_BCRYPT))
    else:
        server = start_accounts_homeserver(request.param)
    try:
        yield server
    finally:
        server.stop()
