"""synctl against real processes: the real app entry path with a fake HomeServer."""

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synapse.scripts import synctl
from synapse.scripts.synctl import running_pid
from tests.ops.deployment import Deploy
from tests.ops.nginx_support import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAKE_MAIN = os.path.join(REPO, "tests", "app", "fake_homeserver_main.py")


def fake_launcher(process):
    argv = [sys.executable, FAKE_MAIN] + ([] if process.role.is_main else ["--worker"])
    for path in process.files:
        argv += ["-c", path]
    return argv


@pytest.fixture
def live_deploy(deploy: Deploy, monkeypatch) -> Deploy:
    """The standard deployment on free ports, ready to run."""
    monkeypatch.setenv("PYTHONPATH", REPO)
    ports = {key: free_port() for key in ("main", "main_repl", "g1", "g2", "w_repl", "w_client")}
    deploy.shared["suppress_key_server_warning"] = True
    deploy.shared["listeners"][0]["port"] = ports["main"]
    deploy.shared["listeners"][1]["port"] = ports["main_repl"]
    deploy.shared["instance_map"]["main"]["port"] = ports["main_repl"]
    deploy.shared["instance_map"]["writer1"]["port"] = ports["w_repl"]
    deploy.workers["generic1"]["worker_listeners"][0]["port"] = ports["g1"]
    deploy.workers["generic2"]["worker_listeners"][0]["port"] = ports["g2"]
    deploy.workers["writer1"]["worker_listeners"][0]["port"] = ports["w_repl"]
    deploy.workers["writer1"]["worker_listeners"][1]["port"] = ports["w_client"]
    deploy.ports = ports  # type: ignore[attr-defined]
    deploy.write()
    yield deploy
    # never leave processes behind, whatever the test did
    synctl.main(["stop", deploy.shared_path, "-a", deploy.workers_dir, "--timeout", "20"], out=io.StringIO())


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = synctl.main(list(args), out=out, launcher=fake_launcher)
    return code, out.getvalue()


def pids(d: Deploy) -> dict[str, int]:
    found = {}
    if (pid := running_pid(d.shared["pid_file"], [d.shared_path])) is not None:
        found["main"] = pid
    for name, worker in d.workers.items():
        if (pid := running_pid(worker["worker_pid_file"], [d.worker_path(name)])) is not None:
            found[name] = pid
    return found


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_start_stop_all(live_deploy):
    d = live_deploy
    code, out = run("start", d.shared_path, "-a", d.workers_dir, "--timeout", "30")
    assert code == 0, out
    lines = out.splitlines()
    # main first, and up before any worker starts
    assert lines[0].startswith("starting main (pid ") and lines[1] == "main started"
    assert {"generic1 started", "generic2 started", "writer1 started"} <= set(lines)
    running = pids(d)
    assert set(running) == {"main", "generic1", "generic2", "writer1"}
    assert all(accepts(port) for port in d.ports.values())

    code, out = run("start", d.shared_path, "-a", d.workers_dir)
    assert code == 0 and f"main is already running (pid {running['main']})" in out

    code, out = run("stop", d.shared_path, "-a", d.workers_dir, "--timeout", "30")
    assert code == 0, out
    assert out.splitlines()[-1] == "main stopped"  # workers first, main last
    assert pids(d) == {}
    pid_files = [d.shared["pid_file"]] + [w["worker_pid_file"] for w in d.workers.values()]
    assert not any(os.path.exists(p) for p in pid_files)
    assert not accepts(d.ports["main"])


def test_restart_one_worker_leaves_the_rest_alone(live_deploy):
    d = live_deploy
    assert run("start", d.shared_path, "-a", d.workers_dir, "--timeout", "30")[0] == 0
    before = pids(d)
    code, out = run("restart", d.shared_path, "-w", d.worker_path("generic1"), "--timeout", "30")
    assert code == 0, out
    after = pids(d)
    assert after["generic1"] != before["generic1"]
    assert {k: v for k, v in after.items() if k != "generic1"} == {k: v for k, v in before.items() if k != "generic1"}
    assert "main" not in out


def test_main_only_without_worker_options(live_deploy):
    d = live_deploy
    code, out = run("start", d.shared_path, "--timeout", "30")
    assert code == 0, out
    assert set(pids(d)) == {"main"}


def test_failed_start_shows_the_console_log(live_deploy):
    d = live_deploy
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", d.ports["g2"]))
        taken.listen()
        code, out = run("start", d.shared_path, "-a", d.workers_dir, "--timeout", "30")
    assert code == 1
    console = os.path.join(d.root, "generic2.console.log")
    assert f"generic2 failed to start: exited with status 1; see {console}" in out
    # the process's own one-line error is shown under it
    assert "    Failed to start: CannotListenError: " in out
    # only this run's output is shown, after synctl's marker in the log
    with open(console) as f:
        assert f.read().startswith("--- synctl start ")
    assert "--- synctl start" not in out
    assert set(pids(d)) == {"main", "generic1", "writer1"}


@pytest.mark.parametrize("stale_pid", ["999999999", "own"])
def test_stale_pid_file_is_replaced(live_deploy, stale_pid):
    """A dead pid, or a live one reused by another program (here: the test
    itself), is not taken for the homeserver, and never signalled."""
    d = live_deploy
    pid = str(os.getpid()) if stale_pid == "own" else stale_pid
    with open(d.shared["pid_file"], "w") as f:
        f.write(pid + "\n")
    assert run("stop", d.shared_path) == (0, "main is not running\n")
    with open(d.shared["pid_file"], "w") as f:
        f.write(pid + "\n")
    code, out = run("start", d.shared_path, "--timeout", "30")
    assert code == 0, out
    assert pids(d)["main"] != int(pid)


def test_invalid_deployment_starts_nothing(live_deploy):
    d = live_deploy
    d.workers["generic2"]["worker_name"] = "generic1"
    d.write()
    code, out = run("start", d.shared_path, "-a", d.workers_dir)
    assert code == 1
    assert out.splitlines()[0] == (
        f"{d.worker_path('generic2')}: worker_name: 'generic1' is also the worker_name in "
        f"{d.worker_path('generic1')}; worker names must be unique"
    )
    assert pids(d) == {}


def test_worker_without_pid_file(live_deploy):
    d = live_deploy
    del d.workers["generic1"]["worker_pid_file"]
    d.write()
    for action in ("start", "stop"):
        code, out = run(action, d.shared_path, "-w", d.worker_path("generic1"))
        assert (code, out) == (
            1,
            f"{d.worker_path('generic1')}: worker_pid_file: synctl needs it to find the running process\n",
        )


def test_no_daemonize_takes_one_process(live_deploy):
    d = live_deploy
    code, out = run("start", d.shared_path, "-a", d.workers_dir, "--no-daemonize")
    assert code == 1 and "--no-daemonize runs one process" in out


def test_stop_when_nothing_runs(live_deploy):
    d = live_deploy
    code, out = run("stop", d.shared_path, "-w", d.worker_path("writer1"))
    assert (code, out) == (0, "writer1 is not running\n")


@pytest.mark.parametrize(
    "arg,matches",
    [
        ("--config-path=/etc/matrix-synapse/workers/generic1.yaml", True),
        ("/srv/other/generic1.yaml", True),
        ("--config-path=/etc/matrix-synapse/workers/", True),  # -c DIR
        ("--config-path=/etc/matrix-synapse/workers/generic2.yaml", False),
    ],
)
def test_pid_file_must_name_a_process_run_with_the_config(tmp_path, arg, matches):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", arg])
    try:
        deadline = time.monotonic() + 10
        while arg.encode() not in Path(f"/proc/{sleeper.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline, "the sleeper never showed its command line"
            time.sleep(0.01)  # until the interpreter has exec'd
        pid_file = tmp_path / "w.pid"
        pid_file.write_text(f"{sleeper.pid}\n")
        found = running_pid(str(pid_file), ["/etc/matrix-synapse/workers/generic1.yaml"])
        assert found == (sleeper.pid if matches else None)
        assert pid_file.exists() == matches
    finally:
        sleeper.kill()
        sleeper.wait()
