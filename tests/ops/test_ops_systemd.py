"""The systemd unit templates in docs/systemd: well formed, and their command
lines are ones our entry points accept."""

import os
import shlex
import shutil
import subprocess

import pytest

from synapse.app._base import build_arg_parser

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNITS = os.path.join(REPO, "docs", "systemd")
INSTALL_BIN = "/opt/venvs/matrix-synapse/bin/"


def parse_unit(name: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    with open(os.path.join(UNITS, name), encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            assert current is not None, f"{name}: {line!r} outside a section"
            key, sep, value = line.partition("=")
            assert sep, f"{name}: not a key=value line: {line!r}"
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_main_unit():
    unit = parse_unit("matrix-synapse.service")
    service = unit["Service"]
    assert service["Type"] == ["notify"] and service["NotifyAccess"] == ["main"]
    argv = shlex.split(service["ExecStart"][0])
    assert argv[0] == INSTALL_BIN + "synapse_homeserver"
    args = build_arg_parser("main", worker=False).parse_args(argv[1:])
    assert args.config_path == ["/etc/matrix-synapse/homeserver.yaml"]
    assert unit["Unit"]["PartOf"] == ["matrix-synapse.target"]
    assert unit["Install"]["WantedBy"] == ["matrix-synapse.target"]


def test_worker_template():
    unit = parse_unit("matrix-synapse-worker@.service")
    service = unit["Service"]
    assert service["Type"] == ["notify"]
    argv = shlex.split(service["ExecStart"][0].replace("%i", "generic1"))
    assert argv[0] == INSTALL_BIN + "synapse_worker"
    args = build_arg_parser("worker", worker=True).parse_args(argv[1:])
    assert args.config_path == ["/etc/matrix-synapse/homeserver.yaml", "/etc/matrix-synapse/workers/generic1.yaml"]
    assert unit["Unit"]["After"] == ["matrix-synapse.service"]
    assert unit["Unit"]["AssertPathExists"] == ["/etc/matrix-synapse/workers/%i.yaml"]
    assert unit["Install"]["WantedBy"] == ["matrix-synapse.target"]


def test_target():
    assert parse_unit("matrix-synapse.target")["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path):
    """systemd's own check, with the executables pointed at stand-ins that exist."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("synapse_homeserver", "synapse_worker"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    for name in os.listdir(UNITS):
        with open(os.path.join(UNITS, name), encoding="utf-8") as f:
            text = f.read().replace(INSTALL_BIN, f"{bin_dir}/")
        (tmp_path / name).write_text(text)
    shutil.copy(tmp_path / "matrix-synapse-worker@.service", tmp_path / "matrix-synapse-worker@generic1.service")
    units = ["matrix-synapse.target", "matrix-synapse.service", "matrix-synapse-worker@generic1.service"]
    result = subprocess.run(["systemd-analyze", "verify", *units], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
