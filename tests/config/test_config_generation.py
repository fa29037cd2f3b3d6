"""--generate-config and --generate-keys through the app's argument handling."""

import os
import re

import yaml
from signedjson.key import read_signing_keys

from synapse.app._base import run_main
from synapse.config.homeserver import HomeServerConfig


def generate(*args: str) -> int:
    return run_main(list(args), description="test", worker=False)


def test_generate_config_roundtrip(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "conf" / "homeserver.yaml")
    assert generate("--generate-config", "--server-name", "my.server", "--config-path", path, "--report-stats=no") == 0
    assert "generated" in capsys.readouterr().out

    config = HomeServerConfig.load([path])
    conf_dir = str(tmp_path / "conf")
    assert config.server.server_name == "my.server"
    assert config.server.report_stats is False
    (listener,) = config.server.listeners
    assert listener.port == 8008 and listener.type == "http"
    assert sorted(listener.bind_addresses) == ["127.0.0.1", "::1"]
    assert listener.resource_names == ["client", "federation"]
    assert config.database.name == "sqlite3"
    assert config.database.args["database"] == str(tmp_path / "homeserver.db")
    assert config.media.media_store_path == str(tmp_path / "media_store")
    assert config.logging.log_config == os.path.join(conf_dir, "my.server.log.config")
    secrets = (config.key.macaroon_secret_key, config.key.form_secret, config.registration.registration_shared_secret)
    for secret in secrets:
        assert secret and len(secret) >= 32
    assert config.key.signing_key_path == os.path.join(conf_dir, "my.server.signing.key")

    # signing key in Synapse's format: "ed25519 <key id> <unpadded base64 seed>"
    with open(config.key.signing_key_path) as f:
        line = f.read().strip()
    assert re.fullmatch(r"ed25519 a_[A-Za-z0-9]{4} [A-Za-z0-9+/]{43}", line)
    with open(config.key.signing_key_path) as f:
        (key,) = read_signing_keys(f)
    assert config.key.signing_key[0].encode() == key.encode()

    # log config: a standard dictConfig mapping using only stdlib handlers
    with open(config.logging.log_config) as f:
        log_config = yaml.safe_load(f)
    assert log_config["version"] == 1
    assert all(h["class"].startswith("logging.") for h in log_config["handlers"].values())


def test_generate_config_leaves_existing_file_alone(tmp_path, capsys):
    path = tmp_path / "homeserver.yaml"
    original = f"server_name: kept.example\nreport_stats: false\nsigning_key_path: {tmp_path}/kept.key\n"
    path.write_text(original)
    assert generate("--generate-config", "-H", "other.example", "-c", str(path), "--report-stats=yes") == 0
    assert "already exists" in capsys.readouterr().out
    assert path.read_text() == original
    # the missing companion file was created, for the existing server
    assert (tmp_path / "kept.key").exists()
    assert not (tmp_path / "other.example.signing.key").exists()


def test_generate_keys_creates_only_missing_files(tmp_path):
    path = tmp_path / "homeserver.yaml"
    path.write_text("server_name: k.example\nreport_stats: false\n")
    assert generate("--generate-keys", "-c", str(path)) == 0
    key_path = tmp_path / "k.example.signing.key"
    first = key_path.read_text()
    assert generate("--generate-keys", "-c", str(path)) == 0
    assert key_path.read_text() == first


def test_generate_config_requires_report_stats(tmp_path, capsys):
    try:
        generate("--generate-config", "-H", "x.example", "-c", str(tmp_path / "hs.yaml"))
    except SystemExit as e:
        assert e.code == 2
    else:
        raise AssertionError("argparse should have exited")
    assert "--report-stats" in capsys.readouterr().err
    assert not (tmp_path / "hs.yaml").exists()


def test_config_error_is_one_line_on_stderr(tmp_path, capsys):
    path = tmp_path / "hs.yaml"
    path.write_text("server_name: e.example\nreport_stats: false\ndefault_room_version: '0'\n")
    assert generate("-c", str(path)) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"{path}: default_room_version: " + err.split(": ", 2)[2]
    assert "\n" not in err and "'0'" in err


def test_main_process_refuses_worker_config(tmp_path, capsys):
    path = tmp_path / "hs.yaml"
    path.write_text(
        "server_name: e.example\nreport_stats: false\nworker_app: synapse.app.generic_worker\n"
        "worker_name: w1\ninstance_map: {main: {host: localhost, port: 9093}}\n"
    )
    assert generate("-c", str(path)) == 1
    assert "worker_app" in capsys.readouterr().err
