"""Loading, merging and validating homeserver.yaml files."""

import logging
import os

import pytest

from synapse.api.errors import ConfigError
from synapse.config.homeserver import HomeServerConfig


def _load_error(paths: list[str]) -> str:
    with pytest.raises(ConfigError) as exc:
        HomeServerConfig.load(paths)
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_minimal_config_defaults(write_yaml, minimal, key_file, tmp_path):
    config = HomeServerConfig.load([write_yaml("hs.yaml", minimal)])
    assert config.server.server_name == "example.org"
    assert config.server.public_baseurl == "https://example.org/"
    assert config.server.default_room_version.identifier == "12"
    assert config.server.listeners == []
    assert config.server.max_upload_size == 50 * 1024 * 1024
    assert config.database.name == "sqlite3"
    assert config.database.args["database"].endswith("homeserver.db")
    assert config.key.signing_key_path == key_file
    assert len(config.key.signing_key) == 1
    assert config.key.signing_key[0].version.startswith("a_")
    assert len(config.key.macaroon_secret_key) == 64
    assert [s.server_name for s in config.key.trusted_key_servers] == ["matrix.org"]
    assert config.registration.enable_registration is False
    assert config.registration.bcrypt_rounds == 12
    assert config.presence.enabled is True
    assert config.userdirectory.enabled is True
    assert config.userdirectory.search_all_users is False
    assert config.metrics.enable_metrics is False
    assert config.redis.enabled is False and config.redis.port == 6379
    assert config.worker.is_main and config.worker.instance_name == "main"
    assert config.config_files == [os.path.join(tmp_path, "hs.yaml")]
    assert config.root["server_name"] == "example.org"
    assert config.config_dir == str(tmp_path)


def test_tolerant_scalars(write_yaml, minimal):
    minimal.update(
        {
            "report_stats": "no",
            "enable_metrics": "yes",
            "enable_registration": "true",
            "enable_registration_without_verification": 1,
            "presence": {"enabled": "false"},
            "user_directory": {"search_all_users": "on"},
            "bcrypt_rounds": "10",
            "default_room_version": 10,
            "max_upload_size": "10K",
            "listeners": [
                {
                    "port": "8448",
                    "type": "http",
                    "tls": "false",
                    "x_forwarded": "True",
                    "bind_address": "127.0.0.1",
                    "resources": [{"names": "client", "compress": "yes"}],
                }
            ],
        }
    )
    config = HomeServerConfig.load([write_yaml("hs.yaml", minimal)])
    assert config.server.report_stats is False
    assert config.metrics.enable_metrics is True
    assert config.registration.enable_registration is True
    assert config.registration.enable_registration_without_verification is True
    assert config.presence.enabled is False
    assert config.userdirectory.search_all_users is True
    assert config.registration.bcrypt_rounds == 10
    assert config.server.default_room_version.identifier == "10"
    assert config.media.max_upload_size == 10 * 1024 == config.server.max_upload_size
    (listener,) = config.server.listeners
    assert listener.port == 8448
    assert listener.tls is False and listener.x_forwarded is True
    assert listener.bind_addresses == ["127.0.0.1"]
    assert listener.resources[0].names == ["client"] and listener.compress is True


def test_later_files_override_earlier(write_yaml, minimal):
    first = write_yaml("a.yaml", {**minimal, "enable_metrics": True, "public_baseurl": "https://one/"})
    second = write_yaml("b.yaml", {"public_baseurl": "https://two"})
    config = HomeServerConfig.load([first, second])
    assert config.server.public_baseurl == "https://two/"
    assert config.metrics.enable_metrics is True
    assert config.config_files == [first, second]


def test_directory_means_its_yaml_files_in_sorted_order(write_yaml, minimal, tmp_path):
    write_yaml("conf.d/20-late.yaml", {"public_baseurl": "https://late/"})
    write_yaml("conf.d/10-early.yaml", {**minimal, "public_baseurl": "https://early/"})
    write_yaml("conf.d/99-ignored.yml.bak", {"server_name": "ignored"})
    config = HomeServerConfig.load([os.path.join(tmp_path, "conf.d")])
    assert config.server.public_baseurl == "https://late/"
    assert [os.path.basename(f) for f in config.config_files] == ["10-early.yaml", "20-late.yaml"]


def test_missing_server_name_names_key_and_file(write_yaml, minimal):
    del minimal["server_name"]
    path = write_yaml("hs.yaml", minimal)
    message = _load_error([path])
    assert message.startswith(f"{path}: server_name: ")
    assert "required" in message


def test_wrong_type_names_file_and_key_path(write_yaml, minimal):
    base = write_yaml("base.yaml", minimal)
    bad = write_yaml("listeners.yaml", {"listeners": [{"type": "http", "port": "eighty"}]})
    message = _load_error([base, bad])
    assert message.startswith(f"{bad}: listeners.0.port: ")
    assert "integer" in message


def test_unknown_room_version_is_refused(write_yaml, minimal):
    path = write_yaml("hs.yaml", {**minimal, "default_room_version": "99"})
    message = _load_error([path])
    assert message.startswith(f"{path}: default_room_version: ")
    assert "'99'" in message


def test_bad_boolean_is_refused(write_yaml, minimal):
    path = write_yaml("hs.yaml", {**minimal, "enable_metrics": "perhaps"})
    assert _load_error([path]).startswith(f"{path}: enable_metrics: ")


def test_invalid_yaml_names_file_and_line(write_yaml):
    path = write_yaml("hs.yaml", "server_name: [unclosed\n")
    message = _load_error([path])
    assert message.startswith(f"{path}: invalid YAML")


def test_missing_signing_key_file(write_yaml, minimal, tmp_path):
    path = write_yaml("hs.yaml", {**minimal, "signing_key_path": str(tmp_path / "nope.key")})
    message = _load_error([path])
    assert "signing_key_path" in message and "nope.key" in message


def test_unknown_top_level_key_warns(write_yaml, minimal, caplog):
    path = write_yaml("hs.yaml", {**minimal, "frobnicate_the_widgets": True})
    with caplog.at_level(logging.WARNING):
        HomeServerConfig.load([path])
    warnings = [r.getMessage() for r in caplog.records if "frobnicate_the_widgets" in r.getMessage()]
    assert len(warnings) == 1 and path in warnings[0]


def test_open_registration_without_verification_is_refused(write_yaml, minimal):
    path = write_yaml("hs.yaml", {**minimal, "enable_registration": True})
    assert "enable_registration" in _load_error([path])


def test_registration_shared_secret_path(write_yaml, minimal, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cret\n")
    with_path = {**minimal, "registration_shared_secret_path": str(secret_file)}
    config = HomeServerConfig.load([write_yaml("hs.yaml", with_path)])
    assert config.registration.registration_shared_secret == "s3cret"
    both = write_yaml("both.yaml", {**with_path, "registration_shared_secret": "x"})
    assert "registration_shared_secret_path" in _load_error([both])


def test_legacy_use_presence_and_untracked(write_yaml, minimal):
    assert HomeServerConfig.load([write_yaml("a.yaml", {**minimal, "use_presence": False})]).presence.enabled is False
    untracked = HomeServerConfig.load([write_yaml("b.yaml", {**minimal, "presence": {"enabled": "untracked"}})])
    assert untracked.presence.enabled is True and untracked.presence.track_presence is False


def test_trusted_key_servers_with_verify_keys(write_yaml, minimal):
    from signedjson.key import encode_verify_key_base64, generate_signing_key

    key = generate_signing_key("v1")
    encoded = encode_verify_key_base64(key.verify_key)
    config = HomeServerConfig.load(
        [
            write_yaml(
                "hs.yaml",
                {
                    **minimal,
                    "trusted_key_servers": [{"server_name": "notary.example", "verify_keys": {"ed25519:v1": encoded}}],
                    "suppress_key_server_warning": "true",
                },
            )
        ]
    )
    (server,) = config.key.trusted_key_servers
    assert server.server_name == "notary.example"
    assert encode_verify_key_base64(server.verify_keys["ed25519:v1"]) == encoded
    assert config.key.suppress_key_server_warning is True
