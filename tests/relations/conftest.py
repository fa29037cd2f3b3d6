"""A HomeServer on a test database (both engines) and room actions for relations tests."""

import pytest

from synapse.server import HomeServer
from synapse.storage.database import DatabasePool
from tests.reading.conftest import Actions
from tests.rooms.server import make_homeserver
from tests.support.twisted import run


@pytest.fixture
def hs(db_pool: DatabasePool) -> HomeServer:
    return run(make_homeserver(db_pool))


@pytest.fixture
def act(hs: HomeServer) -> Actions:
    return Actions(hs)
