"""The process role: which instance this is and who does what.

Parsed once from `worker_app`, `worker_name`, `instance_map`,
`stream_writers`, the `*_instances` lists and the `*_from_worker` options
(plus Synapse's legacy spellings). Only the config and `server.py` read it;
handlers never ask "am I the writer?".

The main process is the instance named "main" (Synapse's "master" is
accepted as a synonym wherever an instance is named).
"""

import logging
from typing import Optional, Union

import attrs

from synapse.config._base import Node, ParseContext
from synapse.config.listeners import ListenerConfig, parse_listeners

logger = logging.getLogger(__name__)

MAIN_INSTANCE = "main"
_MAIN_SYNONYMS = {"main", "master"}

GENERIC_WORKER_APP = "synapse.app.generic_worker"
MAIN_APP = "synapse.app.homeserver"
# Synapse's dedicated worker apps, all now run by the generic worker
LEGACY_WORKER_APPS = frozenset(
    {
        "synapse.app.appservice",
        "synapse.app.client_reader",
        "synapse.app.event_creator",
        "synapse.app.federation_reader",
        "synapse.app.federation_sender",
        "synapse.app.frontend_proxy",
        "synapse.app.media_repository",
        "synapse.app.pusher",
        "synapse.app.synchrotron",
        "synapse.app.user_dir",
    }
)
# deprecated since Synapse 1.59 in favour of a generic worker with an option
DEPRECATED_WORKER_APPS = {
    "synapse.app.appservice": "notify_appservices_from_worker",
    "synapse.app.user_dir": "update_user_directory_from_worker",
}

# streams with exactly one writer, and those that may shard across several
SINGLE_WRITER_STREAMS = ("typing", "to_device", "account_data", "presence", "push_rules", "device_lists")
MULTI_WRITER_STREAMS = ("events", "receipts")
STREAMS = MULTI_WRITER_STREAMS + SINGLE_WRITER_STREAMS

KEYS = frozenset(
    {
        "worker_app",
        "worker_name",
        "instance_map",
        "stream_writers",
        "run_background_tasks_on",
        "update_user_directory_from_worker",
        "notify_appservices_from_worker",
        "pusher_instances",
        "federation_sender_instances",
        "send_federation",
        "outbound_federation_restricted_to",
        "enable_media_repo",
        "media_instance_running_background_jobs",
        "start_pushers",
        "notify_appservices",
        "update_user_directory",
        "worker_replication_secret",
        "worker_listeners",
        "worker_log_config",
        "worker_pid_file",
        "worker_main_http_uri",
        "worker_replication_host",
        "worker_replication_port",
        "worker_replication_http_port",
        "worker_replication_http_tls",
    }
)


def _canonical(name: str) -> str:
    return MAIN_INSTANCE if name in _MAIN_SYNONYMS else name


@attrs.frozen
class InstanceTcpLocation:
    host: str
    port: int
    tls: bool = False

    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@attrs.frozen
class InstanceUnixLocation:
    path: str

    def scheme(self) -> str:
        return "unix"

    def netloc(self) -> str:
        return self.path


InstanceLocation = Union[InstanceTcpLocation, InstanceUnixLocation]


def _main_only() -> list[str]:
    return [MAIN_INSTANCE]


@attrs.frozen
class StreamWriters:
    """Instance names writing each stream; "main" unless configured."""

    events: list[str] = attrs.Factory(_main_only)
    receipts: list[str] = attrs.Factory(_main_only)
    typing: list[str] = attrs.Factory(_main_only)
    to_device: list[str] = attrs.Factory(_main_only)
    account_data: list[str] = attrs.Factory(_main_only)
    presence: list[str] = attrs.Factory(_main_only)
    push_rules: list[str] = attrs.Factory(_main_only)
    # Synapse lets several instances write device_lists; one writer here
    device_lists: list[str] = attrs.Factory(_main_only)

    def for_stream(self, stream: str) -> list[str]:
        if stream not in STREAMS:
            raise KeyError(f"unknown stream {stream!r}")
        return list(getattr(self, stream))


@attrs.frozen
class WorkerConfig:
    # None for the main process; legacy worker app names map to the generic worker
    worker_app: Optional[str]
    # the legacy app name as configured (e.g. "synapse.app.pusher"), else None
    legacy_worker_app: Optional[str]
    worker_name: Optional[str]
    instance_name: str
    instance_map: dict[str, InstanceLocation]
    writers: StreamWriters
    worker_replication_secret: Optional[str]
    worker_listeners: list[ListenerConfig]
    worker_log_config: Optional[str]
    worker_pid_file: Optional[str]
    run_background_tasks_on: str
    update_user_directory_from_worker: Optional[str]
    notify_appservices_from_worker: Optional[str]
    pusher_instances: list[str]
    federation_sender_instances: list[str]
    # None: every instance may make outbound federation requests
    outbound_federation_restricted_to: Optional[list[str]]
    media_instance_running_background_jobs: Optional[str]
    # the duties of THIS process, derived from the options above
    run_background_tasks: bool
    should_update_user_directory: bool
    should_notify_appservices: bool
    start_pushers: bool
    send_federation: bool
    enable_media_repo: bool
    runs_media_background_jobs: bool

    @property
    def is_main(self) -> bool:
        return self.worker_app is None

    def writers_for(self, stream: str) -> list[str]:
        """Instance names writing `stream` (its key under `stream_writers`)."""
        return self.writers.for_stream(stream)

    def is_writer(self, stream: str) -> bool:
        """Does this instance write `stream`?"""
        return self.instance_name in self.writers.for_stream(stream)

    def may_federate_outbound(self) -> bool:
        restricted = self.outbound_federation_restricted_to
        return restricted is None or self.instance_name in restricted

    @classmethod
    def parse(cls, ctx: ParseContext) -> "WorkerConfig":
        return _RoleParser(ctx.root).parse()


class _RoleParser:
    def __init__(self, root: Node) -> None:
        self.root = root
        app_node = root["worker_app"]
        app = app_node.as_str(None)
        self.legacy_app: Optional[str] = None
        if app == MAIN_APP:
            app = None
        elif app in LEGACY_WORKER_APPS:
            self.legacy_app, app = app, GENERIC_WORKER_APP
            if self.legacy_app in DEPRECATED_WORKER_APPS:
                logger.warning(
                    "worker_app %s is deprecated: use %s with %s: <worker name> in the shared config",
                    self.legacy_app,
                    GENERIC_WORKER_APP,
                    DEPRECATED_WORKER_APPS[self.legacy_app],
                )
        elif app is not None and app != GENERIC_WORKER_APP:
            raise app_node.error(f"unknown worker_app {app!r}; use {GENERIC_WORKER_APP}")
        self.app = app
        self.is_main = app is None

        name_node = root["worker_name"]
        name = name_node.as_str(None)
        if self.is_main:
            # Synapse ignores worker_name on the main process; so do we
            name = None
        else:
            name = name or self.legacy_app or app
            if name in _MAIN_SYNONYMS:
                raise name_node.error(f"{name!r} is reserved for the main process")
        self.worker_name = name
        self.instance_name = name or MAIN_INSTANCE

    def parse(self) -> WorkerConfig:
        root = self.root
        self._reject_removed_options()
        instance_map = self._instance_map()
        writers = self._writers(instance_map)
        secret = root["worker_replication_secret"].as_str(None)
        restricted = self._outbound_restriction(instance_map, secret)

        background_on = _canonical(root["run_background_tasks_on"].as_str(None) or MAIN_INSTANCE)
        media_jobs_on = root["media_instance_running_background_jobs"].as_str(None)
        enable_media_repo = root["enable_media_repo"].as_bool(True if self.is_main else False)
        if self.legacy_app == "synapse.app.media_repository":
            enable_media_repo = True

        pushers = self._instances_for_duty("start_pushers", "synapse.app.pusher", "pusher_instances")
        senders = self._instances_for_duty(
            "send_federation", "synapse.app.federation_sender", "federation_sender_instances"
        )
        return WorkerConfig(
            worker_app=self.app,
            legacy_worker_app=self.legacy_app,
            worker_name=self.worker_name,
            instance_name=self.instance_name,
            instance_map=instance_map,
            writers=writers,
            worker_replication_secret=secret,
            worker_listeners=parse_listeners(root["worker_listeners"]),
            worker_log_config=root["worker_log_config"].as_str(None),
            worker_pid_file=root["worker_pid_file"].as_str(None),
            run_background_tasks_on=background_on,
            update_user_directory_from_worker=self._optional_instance("update_user_directory_from_worker"),
            notify_appservices_from_worker=self._optional_instance("notify_appservices_from_worker"),
            pusher_instances=pushers,
            federation_sender_instances=senders,
            outbound_federation_restricted_to=restricted,
            media_instance_running_background_jobs=media_jobs_on,
            run_background_tasks=background_on == self.instance_name,
            should_update_user_directory=self._should_do_duty(
                "update_user_directory", "synapse.app.user_dir", "update_user_directory_from_worker"
            ),
            should_notify_appservices=self._should_do_duty(
                "notify_appservices", "synapse.app.appservice", "notify_appservices_from_worker"
            ),
            start_pushers=self.instance_name in pushers,
            send_federation=self.instance_name in senders,
            enable_media_repo=enable_media_repo,
            runs_media_background_jobs=(
                _canonical(media_jobs_on) == self.instance_name if media_jobs_on else self.is_main
            ),
        )

    def _reject_removed_options(self) -> None:
        root = self.root
        if root["worker_replication_port"].present:
            raise root["worker_replication_port"].error(
                "direct TCP replication is not supported; use redis and an HTTP replication listener"
            )
        if not self.is_main:
            for key in ("worker_replication_host", "worker_replication_http_port", "worker_replication_http_tls"):
                node = root[key]
                if node.present and node.value is not False:
                    raise node.error("no longer supported; describe the main process under instance_map.main")
        if root["worker_main_http_uri"].present:
            logger.warning("worker_main_http_uri is unused and can be removed from the configuration")

    def _optional_instance(self, key: str) -> Optional[str]:
        value = self.root[key].as_str(None)
        return _canonical(value) if value else None

    def _instance_map(self) -> dict[str, InstanceLocation]:
        node = self.root["instance_map"]
        result: dict[str, InstanceLocation] = {}
        for name, entry in node.items():
            entry.mapping()
            location: InstanceLocation
            if entry["path"].present:
                location = InstanceUnixLocation(path=entry["path"].as_str())
            else:
                location = InstanceTcpLocation(
                    host=entry["host"].required().as_str(),
                    port=entry["port"].required().as_int(minimum=1, maximum=65535),
                    tls=entry["tls"].as_bool(False),
                )
            result[_canonical(name)] = location
        if not self.is_main and MAIN_INSTANCE not in result:
            raise node.error("workers need the main process's replication listener under instance_map.main")
        return result

    def _writers(self, instance_map: dict[str, InstanceLocation]) -> StreamWriters:
        node = self.root["stream_writers"]
        for key in node.keys():
            if key not in STREAMS:
                raise node[key].error(f"unknown stream; known streams: {', '.join(STREAMS)}")
        per_stream: dict[str, list[str]] = {}
        for stream in STREAMS:
            stream_node = node[stream]
            names = [_canonical(n) for n in stream_node.str_list([MAIN_INSTANCE], allow_single=True)]
            if not names:
                raise stream_node.error("needs at least one writer")
            if stream in SINGLE_WRITER_STREAMS and len(names) != 1:
                raise stream_node.error(f"the {stream} stream takes exactly one writer")
            for name in names:
                if name != MAIN_INSTANCE and name not in instance_map:
                    raise stream_node.error(f"writer {name!r} does not appear in instance_map")
            per_stream[stream] = names
        return StreamWriters(**per_stream)

    def _outbound_restriction(
        self, instance_map: dict[str, InstanceLocation], secret: Optional[str]
    ) -> Optional[list[str]]:
        node = self.root["outbound_federation_restricted_to"]
        names = node.str_list(None, allow_single=True)
        if not names:
            return None
        names = [_canonical(n) for n in names]
        if not secret:
            raise node.error("needs worker_replication_secret to be set")
        for name in names:
            if name not in instance_map:
                raise node.error(f"instance {name!r} does not appear in instance_map")
        return names

    def _instances_for_duty(self, legacy_option: str, legacy_app: str, list_option: str) -> list[str]:
        """Who does a sharded duty (pushers, federation sending)? The list
        option wins; otherwise the legacy boolean keeps it on main, or hands
        it to a dedicated legacy worker app."""
        legacy_node = self.root[legacy_option]
        on_main = legacy_node.as_bool(True)
        listed = self.root[list_option].str_list(None, allow_single=True)
        if listed is not None:
            return [_canonical(n) for n in listed]
        if self.legacy_app == legacy_app:
            if on_main:
                raise legacy_node.error(
                    f"set {legacy_option}: false in the shared config before running {legacy_app} workers"
                )
            return [self.instance_name]
        return [MAIN_INSTANCE] if on_main else []

    def _should_do_duty(self, legacy_option: str, legacy_app: str, new_option: str) -> bool:
        """Does this process do a single-instance duty (user directory,
        appservice notifications)? Reconciles the new `*_from_worker` option
        with the legacy boolean, refusing contradictions as Synapse does."""
        root = self.root
        by_new: Optional[bool] = None
        if new_option in root.mapping():
            designated = _canonical(root[new_option].as_str(None) or MAIN_INSTANCE)
            by_new = designated == self.instance_name

        by_legacy: Optional[bool] = None
        legacy_node = root[legacy_option]
        if legacy_node.present:
            on_main = legacy_node.as_bool(True)
            by_legacy = (self.is_main and on_main) or (self.legacy_app == legacy_app and not on_main)
            logger.warning("%s is deprecated; use %s: <worker name> instead", legacy_option, new_option)

        if self.legacy_app == legacy_app and legacy_node.as_bool(True):
            raise legacy_node.error(
                f"set {legacy_option}: false to run {legacy_app}, or better use {new_option} with a generic worker"
            )
        if by_new is None and by_legacy is None:
            return self.is_main
        if by_new is not None and by_legacy is not None and by_new != by_legacy:
            raise legacy_node.error(f"contradicts {new_option}; remove {legacy_option}")
        return bool(by_new or by_legacy)
