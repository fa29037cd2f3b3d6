"""Fixtures giving end-to-end tests a running homeserver process.

``homeserver_sqlite`` and ``homeserver_postgres`` start one server each per
test session (tests share them, so they must use their own user names and
rooms); ``workers_topology`` starts one worker deployment behind nginx
(tests/support/topology.py).  ``homeserver`` runs a test once against each of
the three (ids ``monolith-sqlite``, ``monolith-postgres``, ``workers``): the
same scenario must pass whichever way the server is split.  Tests use only
``base_url`` (and ``server_name``), which both kinds of deployment have.
``homeserver_factory`` starts private servers with custom options and stops
them after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.homeserver import Homeserver, start_homeserver
from tests.support.topology import Topology, start_topology

# fixture name behind each deployment the end-to-end scenarios run against
DEPLOYMENTS = {
    "monolith-sqlite": "homeserver_sqlite",
    "monolith-postgres": "homeserver_postgres",
    "workers": "workers_topology",
}


@pytest.fixture(scope="session")
def homeserver_sqlite() -> Iterator[Homeserver]:
    hs = start_homeserver("sqlite")
    yield hs
    hs.stop()


@pytest.fixture(scope="session")
def homeserver_postgres() -> Iterator[Homeserver]:
    hs = start_homeserver("postgres")
    yield hs
    hs.stop()


@pytest.fixture(scope="session")
def workers_topology() -> Iterator[Topology]:
    topology = start_topology()
    yield topology
    topology.stop()


@pytest.fixture(scope="session", params=list(DEPLOYMENTS))
def homeserver(request: pytest.FixtureRequest) -> Homeserver | Topology:
    return request.getfixturevalue(DEPLOYMENTS[request.param])


@pytest.fixture
def homeserver_factory() -> Iterator[Callable[..., Homeserver]]:
    """Call with start_homeserver's arguments; running servers stop at teardown."""
    started: list[Homeserver] = []

    def start(*args: Any, **kwargs: Any) -> Homeserver:
        hs = start_homeserver(*args, **kwargs)
        started.append(hs)
        return hs

    yield start
    for hs in started:
        if hs.process.poll() is None:
            hs.stop()
