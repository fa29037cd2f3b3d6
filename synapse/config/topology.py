"""Does a set of processes form a working deployment?

`workers.py` parses one process's role; it cannot see mistakes that only
show when the processes are considered together, nor the ones an operator
makes when starting a worker with the wrong files. This module checks:

* one process at startup (`load_process_config`, called by every process):
  the worker was given the shared config, has a name, workers run on
  PostgreSQL with Redis, `instance_map` holds main and matches the
  replication listeners, single-writer streams have one writer;
* a whole deployment (`load_deployment`, used by the operator tools):
  the above for every worker, plus unique worker names, every instance the
  shared config names exists, and no two processes bind the same port.

Each mistake is one `ConfigError` line naming the file and the key.
"""

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Optional

import attrs

from synapse.api.errors import ConfigError
from synapse.config.files import find_config_files, read_config_files
from synapse.config.homeserver import HomeServerConfig
from synapse.config.listeners import ListenerConfig
from synapse.config.workers import (
    MAIN_INSTANCE,
    STREAMS,
    InstanceLocation,
    InstanceUnixLocation,
    WorkerConfig,
)

# The workers doc: "unless otherwise documented, each stream can only have a
# single writer"; only the events stream is documented as shardable.
SHARDABLE_STREAMS = ("events",)

_MAIN_NAMES = ("main", "master")
SHARED_CONFIG_HINT = "run with -c homeserver.yaml -c worker.yaml"


# -- one process ---------------------------------------------------------


def load_process_config(
    files: list[str], *, worker: bool, config_dir: Optional[str] = None, data_dir: Optional[str] = None
) -> HomeServerConfig:
    """Load the config of the process about to start (`worker`: started as
    synapse_worker) and check its place in the topology. Raises the first
    mistake as a one-line ConfigError.

    When the files contradict how the process was started (worker_app set
    for the main process, or missing for a worker) the config is returned
    unchecked: the caller's role check names that mistake better."""
    files = find_config_files(files)
    root, origins = read_config_files(files)
    if _is_worker_root(root) != worker:
        return HomeServerConfig.load(files, config_dir=config_dir, data_dir=data_dir)
    for error in raw_worker_errors(root, origins, files):
        raise error
    config = HomeServerConfig.load(files, config_dir=config_dir, data_dir=data_dir)
    validate_process(config)
    return config


def _is_worker_root(root: dict) -> bool:
    app = root.get("worker_app")
    return bool(app) and app != "synapse.app.homeserver"


def raw_worker_errors(root: dict, origins: dict[str, str], files: list[str]) -> Iterator[ConfigError]:
    """Mistakes visible before parsing: a worker started on its own file, or
    without a name. Checked first because the full parse would report them as
    a confusing "server_name is required" (or silently use SQLite)."""
    if not _is_worker_root(root):
        return
    worker_file = origins.get("worker_app", files[-1] if files else None)
    for key in ("server_name", "database"):
        if root.get(key) is None:
            yield ConfigError(
                f"missing from the configuration of this worker: workers read the shared config too; "
                f"{SHARED_CONFIG_HINT}",
                [key],
                worker_file,
            )
            return
    if not root.get("worker_name"):
        yield ConfigError(
            "a worker needs a unique worker_name (also its name in instance_map and stream_writers)",
            ["worker_name"],
            worker_file,
        )


def validate_process(config: HomeServerConfig) -> None:
    """Raise the first topology mistake of one loaded process."""
    for error in process_errors(config):
        raise error


def process_errors(config: HomeServerConfig) -> Iterator[ConfigError]:
    role = config.worker
    where = _KeyFiles(config)
    if not uses_workers(role):
        return
    if config.database.is_sqlite:
        yield where.error(
            ["database", "name"],
            "workers need PostgreSQL (every process shares one database): set database.name: psycopg2",
        )
    if not config.redis.enabled:
        yield where.error(["redis", "enabled"], "workers talk to each other through Redis: set redis.enabled: true")
    if MAIN_INSTANCE not in role.instance_map:
        yield where.error(
            ["instance_map"],
            "needs a 'main' entry (host and port of the main process's replication listener) when workers are used",
        )
    for stream in STREAMS:
        writers = role.writers_for(stream)
        if len(writers) > 1 and stream not in SHARDABLE_STREAMS:
            yield where.error(
                ["stream_writers", stream],
                f"the {stream} stream takes exactly one writer (only {', '.join(SHARDABLE_STREAMS)} "
                f"may be sharded); got {', '.join(writers)}",
            )
    own_location = role.instance_map.get(role.instance_name)
    if own_location is not None:
        listeners = config.server.listeners if role.is_main else role.worker_listeners
        if not _serves_replication_at(listeners, own_location):
            key = "listeners" if role.is_main else "worker_listeners"
            yield where.error(
                [key],
                f"instance_map.{role.instance_name} points at {_describe_location(own_location)} but this "
                f"process has no http listener with the replication resource there",
            )


def uses_workers(role: WorkerConfig) -> bool:
    """Is this config part of a deployment with workers? True for a worker,
    and for a main process whose shared config names any other instance."""
    if not role.is_main:
        return True
    return any(name != MAIN_INSTANCE for name in named_instances(role))


def named_instances(role: WorkerConfig) -> dict[str, str]:
    """Every instance name the shared config mentions -> the key naming it."""
    names: dict[str, str] = {}

    def add(key: str, values: Iterable[Optional[str]]) -> None:
        for value in values:
            if value:
                names.setdefault(MAIN_INSTANCE if value in _MAIN_NAMES else value, key)

    add("instance_map", role.instance_map)
    for stream in STREAMS:
        add(f"stream_writers.{stream}", role.writers_for(stream))
    add("run_background_tasks_on", [role.run_background_tasks_on])
    add("update_user_directory_from_worker", [role.update_user_directory_from_worker])
    add("notify_appservices_from_worker", [role.notify_appservices_from_worker])
    add("media_instance_running_background_jobs", [role.media_instance_running_background_jobs])
    add("pusher_instances", role.pusher_instances)
    add("federation_sender_instances", role.federation_sender_instances)
    add("outbound_federation_restricted_to", role.outbound_federation_restricted_to or [])
    return names


def _serves_replication_at(listeners: list[ListenerConfig], location: InstanceLocation) -> bool:
    for listener in listeners:
        if listener.type != "http" or "replication" not in listener.resource_names:
            continue
        if isinstance(location, InstanceUnixLocation):
            if listener.path == location.path:
                return True
        elif listener.port == location.port:
            return True
    return False


def _describe_location(location: InstanceLocation) -> str:
    if isinstance(location, InstanceUnixLocation):
        return f"socket {location.path}"
    return f"port {location.port}"


class _KeyFiles:
    """Which file set each top-level key, so errors can name it."""

    def __init__(self, config: HomeServerConfig) -> None:
        self.last = config.config_files[-1] if config.config_files else None
        self.origins: dict[str, str] = {}
        if config.config_files:
            _, self.origins = read_config_files(config.config_files)

    def file_of(self, key: str) -> Optional[str]:
        return self.origins.get(key, self.last)

    def error(self, path: list[str], msg: str) -> ConfigError:
        return ConfigError(msg, path, self.file_of(path[0]))


# -- a whole deployment --------------------------------------------------


@attrs.frozen
class Process:
    """One process of a deployment: the files it is started with and its config."""

    files: list[str]
    config: HomeServerConfig

    @property
    def role(self) -> WorkerConfig:
        return self.config.worker

    @property
    def name(self) -> str:
        return self.role.instance_name

    @property
    def listeners(self) -> list[ListenerConfig]:
        return self.config.server.listeners if self.role.is_main else self.role.worker_listeners

    @property
    def pid_file(self) -> Optional[str]:
        return self.config.server.pid_file if self.role.is_main else self.role.worker_pid_file

    @property
    def worker_file(self) -> Optional[str]:
        """The worker's own config file (None for the main process)."""
        return None if self.role.is_main else self.files[-1]


@attrs.frozen
class Deployment:
    """The main process and the workers that loaded, plus every mistake found."""

    shared_files: list[str]
    main: Optional[Process]
    workers: list[Process]
    errors: list[ConfigError]

    @property
    def processes(self) -> list[Process]:
        return ([self.main] if self.main else []) + self.workers

    def worker(self, name: str) -> Process:
        for process in self.workers:
            if process.name == name:
                return process
        raise KeyError(name)


class _FirstTimeOnly(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def log_warnings_once_to_stderr() -> None:
    """Logging for the tools: loading every process's config repeats the
    shared config's warnings once per process; show each once."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(_FirstTimeOnly())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def worker_files_in(directory: str) -> list[str]:
    """The worker configs in a directory: its *.yaml files, sorted."""
    if not os.path.isdir(directory):
        raise ConfigError(f"{directory} is not a directory of worker configs")
    return find_config_files([directory])


def load_deployment(shared_paths: list[str], worker_files: list[str], *, complete: bool = True) -> Deployment:
    """Load the main process and each worker (shared files + its own file)
    and collect every mistake instead of stopping at the first.

    `complete=False` when `worker_files` are only some of the workers (one
    worker being restarted): instances named in the shared config are then
    not required to have a worker file."""
    shared = find_config_files(shared_paths)
    errors: list[ConfigError] = []
    main = _load_process(shared, errors)
    if main is not None and not main.role.is_main:
        errors.append(
            ConfigError(
                "the shared config sets worker_app; move it to the worker's file", ["worker_app"], main.files[-1]
            )
        )
        main = None
    workers: list[Process] = []
    for worker_file in worker_files:
        process = _load_process(shared + [worker_file], errors)
        if process is None:
            continue
        if process.role.is_main:
            errors.append(ConfigError("not a worker config: worker_app is missing", ["worker_app"], worker_file))
            continue
        workers.append(process)
    errors += _duplicate_names(workers)
    if main is not None and complete:
        errors += _unknown_instances(main, workers)
    errors += _port_clashes(([main] if main else []) + workers)
    return Deployment(shared_files=shared, main=main, workers=workers, errors=errors)


def _load_process(files: list[str], errors: list[ConfigError]) -> Optional[Process]:
    try:
        root, origins = read_config_files(files)
        raw = list(raw_worker_errors(root, origins, files))
        if raw:
            errors.extend(raw)
            return None
        config = HomeServerConfig.load(files)
    except ConfigError as e:
        errors.append(e)
        return None
    errors.extend(process_errors(config))
    return Process(files=files, config=config)


def _duplicate_names(workers: list[Process]) -> Iterator[ConfigError]:
    first_file: dict[str, str] = {}
    for process in workers:
        file = process.files[-1]
        if process.name in first_file:
            yield ConfigError(
                f"{process.name!r} is also the worker_name in {first_file[process.name]}; worker names must be unique",
                ["worker_name"],
                file,
            )
        else:
            first_file[process.name] = file


def _unknown_instances(main: Process, workers: list[Process]) -> Iterator[ConfigError]:
    known = {MAIN_INSTANCE} | {w.name for w in workers}
    where = _KeyFiles(main.config)
    for name, key in named_instances(main.role).items():
        if name not in known:
            yield where.error(
                key.split("."),
                f"names instance {name!r} but no worker config has worker_name {name!r} "
                f"(workers: {', '.join(sorted(known - {MAIN_INSTANCE})) or 'none'})",
            )


def _port_clashes(processes: list[Process]) -> Iterator[ConfigError]:
    """Two processes listening on one port (or socket). The tools run a
    deployment on one host, where this stops the second process starting."""
    taken: list[tuple[Process, ListenerConfig]] = []
    for process in processes:
        key = "listeners" if process.role.is_main else "worker_listeners"
        file = _KeyFiles(process.config).file_of(key) if process.role.is_main else process.files[-1]
        for listener in process.listeners:
            for other, other_listener in taken:
                if other.name != process.name and _same_endpoint(listener, other_listener):
                    what = f"socket {listener.path}" if listener.path else f"port {listener.port}"
                    yield ConfigError(f"{what} is also used by {other.name}", [key], file)
                    break
            taken.append((process, listener))


_WILDCARDS = {"0.0.0.0", "::", ""}


def _same_endpoint(a: ListenerConfig, b: ListenerConfig) -> bool:
    if a.path or b.path:
        return a.path == b.path
    if not a.port or a.port != b.port:
        return False
    binds_a, binds_b = set(a.bind_addresses), set(b.bind_addresses)
    return bool(binds_a & _WILDCARDS or binds_b & _WILDCARDS or binds_a & binds_b)
