"""Helpers for config tests: write YAML files and a signing key in tmp_path."""

import os
from typing import Any, Callable

import pytest
import yaml

from synapse.config.generate import write_new_signing_key


@pytest.fixture
def key_file(tmp_path: Any) -> str:
    path = os.path.join(tmp_path, "test.signing.key")
    write_new_signing_key(path)
    return path


@pytest.fixture
def write_yaml(tmp_path: Any) -> Callable[..., str]:
    def write(name: str, content: Any) -> str:
        path = os.path.join(tmp_path, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            if isinstance(content, str):
                f.write(content)
            else:
                yaml.safe_dump(content, f)
        return path

    return write


@pytest.fixture
def minimal(key_file: str) -> dict[str, Any]:
    """The smallest config that loads: the keys Synapse requires."""
    return {"server_name": "example.org", "report_stats": False, "signing_key_path": key_file}
