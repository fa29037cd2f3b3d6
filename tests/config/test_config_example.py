"""homeserver.yaml.example documents every option and loads."""

import os
import re

import yaml

from synapse.config.homeserver import KNOWN_KEYS, HomeServerConfig

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "homeserver.yaml.example")


def test_every_known_option_is_documented():
    with open(EXAMPLE) as f:
        text = f.read()
    documented = set(re.findall(r"^#?([a-z_0-9]+):", text, re.MULTILINE))
    assert KNOWN_KEYS - documented == set()


def test_example_loads(key_file, tmp_path):
    with open(EXAMPLE) as f:
        root = yaml.safe_load(f)
    root["signing_key_path"] = key_file
    config = HomeServerConfig.from_dict(root, config_dir=str(tmp_path), config_files=[EXAMPLE])
    assert config.server.server_name == "example.com"
    assert config.server.listeners[0].resource_names == ["client", "federation"]
