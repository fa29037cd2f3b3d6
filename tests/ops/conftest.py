"""Fixtures for the operator tooling tests."""

from typing import Any

import pytest

from tests.ops.deployment import Deploy


@pytest.fixture
def deploy(tmp_path: Any) -> Deploy:
    return Deploy(str(tmp_path))
