"""Start, stop and restart the main process and workers, as Synapse's synctl.

    synctl start|stop|restart [CONFIGFILE] [-w WORKERCONFIG] [-a WORKERSDIR] [--no-daemonize]

CONFIGFILE (default homeserver.yaml) is the shared config. Without -w/-a
only the main process is managed; `-a DIR` adds every worker config in DIR;
`-w FILE` manages that worker alone. Main starts first and stops last.

Our apps stay in the foreground (for systemd), so synctl runs each in its
own session with stdout/stderr appended to `<name>.console.log` beside its
pid file. A start succeeds once the process has written its pid file and
its listeners accept connections; a stop sends SIGTERM and waits for the
process to exit. Pid files come from `pid_file` (main) and
`worker_pid_file` (workers), which the processes write themselves.
"""

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional, TextIO

import attrs

from synapse.api.errors import ConfigError
from synapse.config.files import find_config_files, read_config_files
from synapse.config.topology import Process, load_deployment, log_warnings_once_to_stderr, worker_files_in

DEFAULT_TIMEOUT_SECONDS = 60.0
_POLL_SECONDS = 0.1


def default_command(process: Process) -> list[str]:
    """The command line that runs one process in the foreground."""
    role = process.role
    module = "synapse.app.homeserver" if role.is_main else (role.legacy_worker_app or role.worker_app)
    argv = [sys.executable, "-m", str(module)]
    for path in process.files:
        argv += ["-c", os.path.abspath(path)]
    return argv


Launcher = Callable[[Process], list[str]]


@attrs.frozen
class Target:
    """What synctl needs to know about one process it manages."""

    name: str
    files: list[str]
    pid_file: str

    @property
    def console_log(self) -> str:
        return os.path.join(os.path.dirname(os.path.abspath(self.pid_file)), f"{self.name}.console.log")


class Synctl:
    def __init__(self, out: TextIO, timeout: float = DEFAULT_TIMEOUT_SECONDS, launcher: Launcher = default_command):
        self.out = out
        self.timeout = timeout
        self.launcher = launcher

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- stop -------------------------------------------------------------

    def stop(self, targets: Sequence[Target]) -> bool:
        """SIGTERM every running target, then wait for all of them to exit."""
        signalled: list[tuple[Target, int]] = []
        for target in targets:
            pid = running_pid(target.pid_file, target.files)
            if pid is None:
                self.say(f"{target.name} is not running")
                continue
            os.kill(pid, signal.SIGTERM)
            self.say(f"stopping {target.name} (pid {pid})")
            signalled.append((target, pid))
        ok = True
        deadline = time.monotonic() + self.timeout
        for target, pid in signalled:
            if _wait_for_exit(pid, deadline):
                self.say(f"{target.name} stopped")
            else:
                self.say(f"{target.name} (pid {pid}) did not stop within {self.timeout:g}s")
                ok = False
        return ok

    # -- start ------------------------------------------------------------

    def start(self, processes: Sequence[tuple[Process, Target]]) -> bool:
        """Launch every target not already running, then wait until each is
        up; a process that exits early has its console log shown."""
        launched: list[tuple[Process, Target, subprocess.Popen]] = []
        for process, target in processes:
            pid = running_pid(target.pid_file, target.files)
            if pid is not None:
                self.say(f"{target.name} is already running (pid {pid})")
                continue
            with open(target.console_log, "ab") as log:
                log.write(f"--- synctl start {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode())
                log.flush()
                child = subprocess.Popen(
                    self.launcher(process),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
            self.say(f"starting {target.name} (pid {child.pid})")
            launched.append((process, target, child))
        ok = True
        deadline = time.monotonic() + self.timeout
        for process, target, child in launched:
            problem = _wait_until_up(process, target, child, deadline)
            if problem is None:
                self.say(f"{target.name} started")
                continue
            ok = False
            self.say(f"{target.name} failed to start: {problem}; see {target.console_log}")
            for line in _tail_of_this_run(target.console_log):
                self.say(f"    {line}")
        return ok


def running_pid(pid_file: str, files: Sequence[str]) -> Optional[int]:
    """The pid in `pid_file` if that process is alive and runs with `files`;
    a stale file (its process gone, or the pid reused by another program
    after a crash) is removed, so we never signal a stranger."""
    pid = _read_pid(pid_file)
    if pid is None:
        return None
    if _alive(pid) and _runs_with(pid, files[-1]):
        return pid
    with contextlib.suppress(FileNotFoundError):
        os.unlink(pid_file)
    return None


def _alive(pid: int) -> bool:
    try:
        # reap it if it is our own exited child (it would linger as a zombie)
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(pid_file: str) -> Optional[int]:
    try:
        with open(pid_file, encoding="utf-8") as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def _runs_with(pid: int, config_file: str) -> bool:
    """Does the process's command line name this config file? True where
    /proc cannot tell us."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return True
    if not raw:
        # a process between fork and exec shows no command line yet
        return True
    args = raw.decode("utf-8", "replace").split("\0")
    # the file itself, or its directory when that was given as -c DIR
    path = os.path.abspath(config_file)
    names = {os.path.basename(path), os.path.basename(os.path.dirname(path))}
    return any(os.path.basename(arg.split("=", 1)[-1].rstrip("/")) in names for arg in args)


def _wait_for_exit(pid: int, deadline: float) -> bool:
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def _wait_until_up(process: Process, target: Target, child: subprocess.Popen, deadline: float) -> Optional[str]:
    """None once the pid file names the child and its listeners accept
    connections; else why not."""
    while True:
        code = child.poll()
        if code is not None:
            return f"exited with status {code}"
        if _read_pid(target.pid_file) == child.pid and all(_accepts(ep) for ep in _endpoints(process)):
            return None
        if time.monotonic() > deadline:
            return "not up in time"
        time.sleep(_POLL_SECONDS)


def _endpoints(process: Process) -> list[tuple[int, Any]]:
    result: list[tuple[int, Any]] = []
    for listener in process.listeners:
        if listener.path:
            result.append((socket.AF_UNIX, listener.path))
        elif listener.port and listener.type in ("http", "metrics"):
            bind = listener.bind_addresses[0] if listener.bind_addresses else "127.0.0.1"
            if bind in ("0.0.0.0", "::", ""):
                bind = "127.0.0.1" if bind != "::" else "::1"
            family = socket.AF_INET6 if ":" in bind else socket.AF_INET
            result.append((family, (bind, listener.port)))
    return result


def _accepts(endpoint: tuple[int, Any]) -> bool:
    family, address = endpoint
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True


def _tail_of_this_run(path: str, lines: int = 10) -> list[str]:
    """The last lines the process wrote since synctl's latest start marker."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read().splitlines()
    except OSError:
        return []
    starts = [i for i, line in enumerate(text) if line.startswith("--- synctl start ")]
    return text[starts[-1] + 1 if starts else 0 :][-lines:]


# -- choosing the targets -------------------------------------------------


def stop_targets(shared: list[str], worker_files: list[str], with_main: bool) -> list[Target]:
    """Targets read straight from the YAML, so a broken config never keeps a
    running process from being stopped. Workers first, main last."""
    targets = [_raw_target(shared + [path], worker=True) for path in worker_files]
    if with_main:
        targets.append(_raw_target(shared, worker=False))
    return targets


def _raw_target(files: list[str], worker: bool) -> Target:
    root, origins = read_config_files(files)
    key = "worker_pid_file" if worker else "pid_file"
    pid_file = root.get(key)
    if not pid_file:
        where = origins.get(key, files[-1])
        raise ConfigError("synctl needs it to find the running process", [key], where)
    name = str(root.get("worker_name") or os.path.basename(files[-1])) if worker else "main"
    return Target(name=name, files=files, pid_file=str(pid_file))


def start_plan(
    shared: list[str], worker_files: list[str], with_main: bool, complete: bool
) -> list[tuple[Process, Target]]:
    """Validate the deployment and pair each process to start with its target.
    `complete`: the worker files are all the workers (-a), so every instance
    the shared config names must be among them."""
    deployment = load_deployment(shared, worker_files, complete=complete)
    if deployment.errors:
        raise _Invalid(deployment.errors)
    processes = ([deployment.main] if with_main and deployment.main else []) + deployment.workers
    plan = []
    for process in processes:
        if not process.pid_file:
            key = "pid_file" if process.role.is_main else "worker_pid_file"
            raise ConfigError("synctl needs it to find the running process", [key], process.files[-1])
        plan.append((process, Target(name=process.name, files=process.files, pid_file=process.pid_file)))
    return plan


class _Invalid(Exception):
    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors


# -- command line ---------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synctl", description="Start, stop or restart the homeserver and workers.")
    parser.add_argument("action", choices=["start", "stop", "restart"])
    parser.add_argument(
        "configfile",
        nargs="?",
        default="homeserver.yaml",
        help="The shared config file, or a directory of *.yaml (default: homeserver.yaml).",
    )
    parser.add_argument(
        "-w",
        "--worker",
        action="append",
        default=[],
        metavar="WORKERCONFIG",
        help="Manage only this worker (repeatable).",
    )
    parser.add_argument(
        "-a",
        "--all-processes",
        metavar="WORKERSDIR",
        help="Manage the main process and every worker config in this directory.",
    )
    parser.add_argument(
        "--no-daemonize", action="store_true", help="Run the one selected process in the foreground (for debugging)."
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="Seconds to wait for each start or stop (default: 60).",
    )
    return parser


def main(argv: Optional[list[str]] = None, out: Optional[TextIO] = None, launcher: Launcher = default_command) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    log_warnings_once_to_stderr()
    shared = find_config_files([args.configfile])
    ctl = Synctl(out, timeout=args.timeout, launcher=launcher)
    try:
        if not shared:
            raise ConfigError(f"no config file found at {args.configfile}")
        worker_files = [os.path.abspath(w) for w in args.worker]
        if args.all_processes:
            worker_files += worker_files_in(args.all_processes)
        with_main = bool(args.all_processes) or not args.worker
        if args.no_daemonize:
            return _run_in_foreground(args.action, start_plan(shared, worker_files, with_main, False), launcher)
        ok = True
        if args.action in ("stop", "restart"):
            ok = ctl.stop(stop_targets(shared, worker_files, with_main))
        if ok and args.action in ("start", "restart"):
            plan = start_plan(shared, worker_files, with_main, complete=bool(args.all_processes))
            main_first = [p for p in plan if p[0].role.is_main]
            ok = ctl.start(main_first) and ctl.start([p for p in plan if not p[0].role.is_main])
    except _Invalid as e:
        for error in e.errors:
            print(str(error), file=out)
        return 1
    except ConfigError as e:
        print(str(e), file=out)
        return 1
    return 0 if ok else 1


def _run_in_foreground(action: str, plan: list[tuple[Process, Target]], launcher: Launcher) -> int:
    if action != "start":
        raise ConfigError("--no-daemonize only goes with start")
    if len(plan) != 1:
        raise ConfigError("--no-daemonize runs one process: give either no -w/-a (main) or a single -w")
    argv = launcher(plan[0][0])
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())
