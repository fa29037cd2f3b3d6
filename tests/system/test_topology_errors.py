"""Each topology mistake stops a real process start with one clear line.

The files are the ones `start_topology` writes for a working deployment,
copied and changed in one place per test, then the process is started the
way an operator would (``python -m synapse.app.generic_worker -c ... -c ...``).
It must exit 1 and write exactly one line to stderr (no traceback) naming
the file and the key to fix.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.topology import MAIN_MODULE, WORKER_MODULE, Topology, start_topology

_RUN_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def written() -> Iterator[Topology]:
    """A deployment's files (and database, Redis), with no process running."""
    deployment = start_topology(launch=False)
    yield deployment
    deployment.stop()


class Files:
    """Editable copies of the shared config and the worker files."""

    def __init__(self, topology: Topology, tmp: Path) -> None:
        self.topology = topology
        self.dir = tmp
        self.shared_path = tmp / "homeserver.yaml"
        shutil.copy(topology.shared_config_path, self.shared_path)
        self.workers_dir = tmp / "workers"
        self.workers_dir.mkdir()
        for name, info in topology.processes.items():
            if name != "main":
                shutil.copy(info.files[-1], self.workers_dir / info.files[-1].name)

    def worker_path(self, name: str) -> Path:
        return self.workers_dir / f"{name}.yaml"

    def edit(self, path: Path, change: Any) -> None:
        content = yaml.safe_load(path.read_text())
        change(content)
        path.write_text(yaml.safe_dump(content, sort_keys=False))

    def run(self, module: str, *files: Path) -> subprocess.CompletedProcess:
        args = [self.topology.python, "-m", module]
        for path in files:
            args += ["-c", str(path)]
        return self.run_args(args)

    def run_args(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            args,
            cwd=self.dir,
            env=self.topology.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_RUN_TIMEOUT_S,
        )

    def start_main(self) -> subprocess.CompletedProcess:
        return self.run(MAIN_MODULE, self.shared_path)

    def start_worker(self, name: str) -> subprocess.CompletedProcess:
        return self.run(WORKER_MODULE, self.shared_path, self.worker_path(name))


@pytest.fixture
def files(written: Topology, tmp_path: Path) -> Files:
    return Files(written, tmp_path)


def assert_one_line_error(result: subprocess.CompletedProcess, key: str, file: Path) -> str:
    """Exit status 1 and one stderr line naming `file` and `key`; the line."""
    assert result.returncode == 1, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one stderr line, got:\n{result.stderr}"
    line = lines[0]
    assert str(file) in line, f"{line!r} does not name {file}"
    assert key in line, f"{line!r} does not name the key {key}"
    return line


def test_writer_missing_from_instance_map(files: Files) -> None:
    files.edit(files.shared_path, lambda c: c["instance_map"].pop("persister2"))
    for result in (files.start_main(), files.start_worker("persister1")):
        line = assert_one_line_error(result, "stream_writers.events", files.shared_path)
        assert "persister2" in line and "instance_map" in line


def test_two_writers_for_a_single_writer_stream(files: Files) -> None:
    files.edit(files.shared_path, lambda c: c["stream_writers"].update(typing=["stream_writer", "generic1"]))
    for result in (files.start_main(), files.start_worker("generic1")):
        line = assert_one_line_error(result, "stream_writers.typing", files.shared_path)
        assert "one writer" in line


def test_workers_on_sqlite(files: Files) -> None:
    sqlite = {"name": "sqlite3", "args": {"database": str(files.dir / "homeserver.db")}}
    files.edit(files.shared_path, lambda c: c.update(database=sqlite))
    for result in (files.start_main(), files.start_worker("generic1")):
        line = assert_one_line_error(result, "database.name", files.shared_path)
        assert "PostgreSQL" in line


def test_redis_disabled_with_workers(files: Files) -> None:
    files.edit(files.shared_path, lambda c: c["redis"].update(enabled=False))
    for result in (files.start_main(), files.start_worker("persister1")):
        assert_one_line_error(result, "redis.enabled", files.shared_path)


def test_worker_started_without_the_shared_config(files: Files) -> None:
    worker_file = files.worker_path("generic1")
    result = files.run(WORKER_MODULE, worker_file)
    line = assert_one_line_error(result, "server_name", worker_file)
    assert "-c homeserver.yaml -c worker.yaml" in line


def test_duplicate_worker_names_are_refused_by_the_deployment_tools(files: Files) -> None:
    duplicate = files.worker_path("generic2")
    files.edit(duplicate, lambda c: c.update(worker_name="generic1"))
    common = ["-c", str(files.shared_path), "--workers-dir", str(files.workers_dir)]

    nginx = files.run_args([files.topology.python, "-m", "synapse.scripts.nginx_config", *common, "--check"])
    assert nginx.returncode == 1, (nginx.stdout, nginx.stderr)
    duplicate_lines = [line for line in nginx.stderr.splitlines() if "is also the worker_name" in line]
    assert len(duplicate_lines) == 1, nginx.stderr
    assert str(duplicate) in duplicate_lines[0] and "'generic1'" in duplicate_lines[0]

    # synctl refuses the same deployment before starting anything
    def with_pid_files(content: dict[str, Any]) -> None:
        content["pid_file"] = str(files.dir / "main.pid")

    files.edit(files.shared_path, with_pid_files)
    for path in files.workers_dir.glob("*.yaml"):
        files.edit(path, lambda c, p=path: c.update(worker_pid_file=str(files.dir / f"{p.stem}.pid")))
    synctl = files.run_args(
        [
            files.topology.python,
            "-m",
            "synapse.scripts.synctl",
            "start",
            str(files.shared_path),
            "-a",
            str(files.workers_dir),
        ]
    )
    assert synctl.returncode == 1, (synctl.stdout, synctl.stderr)
    # synctl reports on stdout, as Synapse's does
    output = synctl.stdout + synctl.stderr
    lines = [line for line in output.splitlines() if "is also the worker_name" in line]
    assert len(lines) == 1 and str(duplicate) in lines[0], output
    assert not list(files.dir.glob("*.pid")), "synctl started a process despite the mistake"
