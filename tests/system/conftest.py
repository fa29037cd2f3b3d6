"""One worker deployment per test module (tests in a module share it and use
their own users and rooms; modules that break processes get a fresh one)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.topology import Topology, start_topology


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    deployment = start_topology()
    yield deployment
    deployment.stop()
