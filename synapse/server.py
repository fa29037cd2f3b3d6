"""HomeServer: builds, on first use, every component one process needs.

This is the one place (with synapse/config) that reads the process role:
it decides which stream writers are local and which are reached over
replication, which replication calls and routes this process serves, and
where background jobs run. Handlers and stores never ask "am I the
writer?"; they are handed the right implementation here.

Startup (`setup`): database and schema (workers never upgrade and refuse
an empty database), one id generator per registered stream, then the
replication bus (Redis when `redis.enabled`, else in-process) and
`ReplicationPositions` subscribed first, the events stream reader, the
`caches` stream (with Redis), metrics, and the bus connection.
"""

import functools
import importlib
import logging
from collections.abc import Hashable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Optional

from twisted.internet import defer
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import LoopingCall
from twisted.web.resource import IResource

from synapse.http.server import JsonResource
from synapse.notifier import Notifier
from synapse.streams.tokens import StreamToken
from synapse.util.caches import CacheRegistry
from synapse.util.clock import Clock

if TYPE_CHECKING:
    from synapse.replication.bus import ReplicationBus
    from synapse.replication.http.client import ReplicationClient
    from synapse.replication.http.endpoint import ReplicationEndpoint, ReplicationServer
    from synapse.replication.positions import ReplicationPositions
    from synapse.storage.database import DatabasePool
    from synapse.storage.databases import DataStores
    from synapse.storage.id_generators import StreamIdGenerator
    from synapse.streams.base import UserStream
    from synapse.streams.caches import CacheInvalidationStream

logger = logging.getLogger(__name__)

# resources that a listener's resource name mounts
_RESOURCE_ALIASES = {"client": ("client", "admin")}
# how long startup waits for the replication bus before going on without it
# (it keeps reconnecting in the background)
BUS_CONNECT_TIMEOUT_S = 10.0
# how often a worker started before main checks whether the schema is there
SCHEMA_POLL_INTERVAL_S = 1.0


class HomeServer:
    def __init__(self, config: Any, reactor: Optional[IReactorCore] = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor  # type: ignore[assignment]
        self.config = config
        self.reactor = reactor
        self.hostname: str = config.server.server_name
        self.instance_name: str = config.worker.instance_name
        self._db: Optional["DatabasePool"] = None
        self._stores: Optional["DataStores"] = None
        self.id_generators: dict[str, "StreamIdGenerator"] = {}
        self._bus: Optional["ReplicationBus"] = None
        self._positions: Optional["ReplicationPositions"] = None
        # the `caches` stream; None without Redis (no other process to tell)
        self.cache_stream: Optional["CacheInvalidationStream"] = None
        self._background: list[LoopingCall] = []
        self._stream_writers: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------
    async def setup(self) -> None:
        """Opens the database, brings the schema up to date, loads stream
        positions and joins replication; see the module docstring."""
        from synapse.api.errors import ConfigError
        from synapse.storage.database import make_database_pool
        from synapse.storage.databases import DataStores
        from synapse.storage.id_generators import StreamIdGenerator
        from synapse.storage.prepare import PrepareDatabaseError, prepare_database
        from synapse.streams.registry import STREAMS

        role = self.config.worker
        self._db = make_database_pool(self.reactor, self.config.database.name, self.config.database.args)
        try:
            await prepare_database(self._db, allow_upgrade=role.is_main)
        except PrepareDatabaseError as e:
            if role.is_main:
                raise ConfigError(f"{self.instance_name}: {e}", ["database"]) from None
            await self._wait_for_schema(str(e))
        for spec in STREAMS:
            writers = role.writers_for(spec.writers_config_key)
            self.id_generators[spec.name] = await StreamIdGenerator.create(
                self._db, spec.name, self.instance_name, writers
            )
        self._stores = DataStores(self._db, self.clock, self.id_generators)
        await self._setup_replication()
        self._start_presence()
        if self.config.worker.should_update_user_directory and self.config.userdirectory.enabled:
            from synapse.handlers.user_directory import UPDATE_INTERVAL_S

            updater = self.clock.looping_call(self.user_directory_handler.run_updater, UPDATE_INTERVAL_S)
            self._background.append(updater)
        logger.info("Server %s (instance %s) set up", self.hostname, self.instance_name)

    def _start_presence(self) -> None:
        """Where presence is tracked, every process re-sends the users whose
        /sync it serves, and the presence writer applies the timeouts."""
        presence = self.config.presence
        if not (presence.enabled and presence.track_presence):
            return
        timeouts = presence.timeouts
        self._background.append(
            self.clock.looping_call(self.presence_handler.sync_reporter.refresh, timeouts.refresh_ms / 1000)
        )
        if self.id_generators["presence"].is_writer:
            check_timeouts = self.user_streams["presence"].check_timeouts  # type: ignore[attr-defined]
            self._background.append(self.clock.looping_call(check_timeouts, timeouts.check_ms / 1000))

    async def _wait_for_schema(self, reason: str) -> None:
        """A worker started before main (or before main upgraded the schema)
        waits for it instead of failing: it never migrates itself, and once
        the schema is there it starts and catches up from stored positions."""
        from synapse.storage.prepare import PrepareDatabaseError, prepare_database

        logger.warning("%s: %s; waiting for the main process to prepare the database", self.instance_name, reason)
        waited = 0.0
        while True:
            await self.clock.sleep(SCHEMA_POLL_INTERVAL_S)
            waited += SCHEMA_POLL_INTERVAL_S
            try:
                await prepare_database(self.db, allow_upgrade=False)
                logger.info("Database ready after waiting %.0fs", waited)
                return
            except PrepareDatabaseError as e:
                if waited % 30 < SCHEMA_POLL_INTERVAL_S:
                    logger.warning("Still waiting for the main process to prepare the database: %s", e)

    async def _setup_replication(self) -> None:
        from synapse.replication.bus import InProcessBus
        from synapse.replication.metrics import ReplicationMetrics
        from synapse.replication.positions import ReplicationPositions
        from synapse.replication.redis import RedisReplicationBus
        from synapse.storage.id_generators import load_stored_position
        from synapse.streams.caches import PRUNE_INTERVAL_S, CacheInvalidationStream
        from synapse.streams.events import EventsStreamWaker

        redis = self.config.redis
        bus: "ReplicationBus"
        if redis.enabled:
            bus = RedisReplicationBus(self.reactor, self.hostname, self.instance_name, redis)
        else:
            bus = InProcessBus(self.instance_name)
        self._bus = bus
        # before anything can move a per-user stream: its change cache then
        # holds every change above the token it starts from
        for name in self.user_streams:
            self.notifier.track_changes(name, self.id_generators[name].get_current_token())
        # first subscriber: others then see id generators already advanced
        self._positions = ReplicationPositions(
            self.instance_name,
            self.id_generators,
            bus,
            self.notifier,
            self.clock,
            stored_position=functools.partial(load_stored_position, self.db),
        )
        events = self.id_generators["events"]
        waker = EventsStreamWaker(self.db, self.stores.events, events, self.notifier)
        self._positions.register_stream_reader("events", waker.read_updates)
        for name, stream in self.user_streams.items():
            self._positions.register_stream_reader(name, stream.read_updates, read_range_first=True)
        if events.is_writer and len(events.writers) > 1:
            self.notifier.add_stream_listener(waker.on_stream_update)
        ReplicationMetrics.install(bus, self._positions)
        if redis.enabled:
            self.cache_stream = CacheInvalidationStream(self.db, self.instance_name, self.caches, bus, self.clock)
            await self.cache_stream.start()
            if self.config.worker.run_background_tasks:
                self._background.append(self.clock.looping_call(self._prune_cache_stream, PRUNE_INTERVAL_S))
        bus.start()
        try:
            await bus.wait_until_connected(BUS_CONNECT_TIMEOUT_S)
        except defer.TimeoutError:
            logger.warning(
                "Replication bus not connected after %.0fs; starting anyway, it keeps reconnecting",
                BUS_CONNECT_TIMEOUT_S,
            )

    async def _prune_cache_stream(self) -> None:
        assert self.cache_stream is not None
        try:
            await self.cache_stream.prune()
        except Exception:
            logger.exception("Pruning cache invalidations failed")

    async def shutdown(self) -> None:
        for call in self._background:
            if call.running:
                call.stop()
        self._background = []
        if self._bus is not None:
            await self._bus.stop()
            self._bus = None
        if "replication_client" in self.__dict__:
            await self.replication_client.close()
        if self._db is not None:
            await self._db.close()
            self._db = None

    def build_listener_resource(self, resource_names: list[str]) -> IResource:
        """A JSON resource serving every route of the given listener
        resources; `replication` mounts the replication calls this process
        serves and, like `client`, the replication health report."""
        from synapse.replication.endpoints.health import ReplicationHealthServlet
        from synapse.routes import build_routes

        wanted = {alias for name in resource_names for alias in _RESOURCE_ALIASES.get(name, (name,))}
        resource = JsonResource()
        for route in build_routes():
            if route.resource in wanted and self._serves(route):
                route.servlet(self).register(resource)  # type: ignore[call-arg]
        if "replication" in wanted:
            for endpoint in self.replication_endpoints():
                endpoint.register(resource)
        if wanted & {"replication", "client"}:
            ReplicationHealthServlet(self).register(resource)
        return resource

    def current_token(self) -> "StreamToken":
        """The position of every stream that this process can serve to clients."""
        return StreamToken({name: gen.get_current_token() for name, gen in self.id_generators.items()})

    def _serves(self, route: Any) -> bool:
        """Workers serve "generic" routes, main serves all. A route bound to
        a stream is served like any other (a process that is not the writer
        forwards the write through `stream_writer`), and by nobody while the
        stream does not exist yet (M_UNRECOGNIZED everywhere)."""
        if route.stream is not None and route.stream not in self.id_generators:
            return False
        return self.config.worker.is_main or route.runs_on == "generic"

    # -- core components -----------------------------------------------------
    @property
    def stores(self) -> "DataStores":
        assert self._stores is not None, "HomeServer.setup() has not run"
        return self._stores

    @property
    def db(self) -> "DatabasePool":
        assert self._db is not None, "HomeServer.setup() has not run"
        return self._db

    @cached_property
    def clock(self) -> Clock:
        return Clock(self.reactor)  # type: ignore[arg-type]

    @cached_property
    def signing_key(self) -> Any:
        return self.config.key.signing_key[0]

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(self.clock)

    @cached_property
    def auth(self) -> Any:
        from synapse.api.auth import Auth

        return Auth(self)

    # -- caches --------------------------------------------------------------
    @cached_property
    def caches(self) -> CacheRegistry:
        """Named caches that other processes can invalidate (the `caches` stream)."""
        return CacheRegistry()

    async def invalidate_cache(self, name: str, keys: Iterable[Hashable]) -> None:
        """Drops `keys` from the named cache here and, with replication, on
        every process (returns once the invalidation is written and published)."""
        keys = list(keys)
        if self.cache_stream is None:
            self.caches.invalidate(name, keys)
            return
        await self.cache_stream.invalidate(name, keys)

    # -- replication -----------------------------------------------------------
    @property
    def replication_bus(self) -> "ReplicationBus":
        assert self._bus is not None, "HomeServer.setup() has not run"
        return self._bus

    @property
    def replication_positions(self) -> "ReplicationPositions":
        assert self._positions is not None, "HomeServer.setup() has not run"
        return self._positions

    @cached_property
    def replication_client(self) -> "ReplicationClient":
        from synapse.replication.http.client import ReplicationClient

        role = self.config.worker
        return ReplicationClient(
            self.reactor, role.instance_map, role.worker_replication_secret, self.replication_positions
        )

    @cached_property
    def replication_server(self) -> "ReplicationServer":
        from synapse.replication.http.endpoint import ReplicationServer

        return ReplicationServer(self.instance_name, self.config.worker.worker_replication_secret, self.clock)

    def replication_endpoints(self) -> list["ReplicationEndpoint"]:
        """The replication calls this process serves: each stream writer's."""
        from synapse.replication.endpoints.persist_event import ReplicationPersistEventEndpoint
        from synapse.replication.endpoints.stream_write import ReplicationStreamWriteEndpoint

        endpoints: list["ReplicationEndpoint"] = []
        if self.id_generators["events"].is_writer:
            endpoints.append(ReplicationPersistEventEndpoint(self.replication_server, self.local_event_persister))
        written = {name: s for name, s in self.user_streams.items() if self.id_generators[name].is_writer}
        if written:
            endpoints.append(ReplicationStreamWriteEndpoint(self.replication_server, written))
        return endpoints

    @cached_property
    def user_streams(self) -> dict[str, "UserStream"]:
        """Every registered per-user stream's object, in registry order: it
        reads (sync, reader hook) on every process and writes on its writer."""
        from synapse.streams.registry import STREAMS

        streams: dict[str, "UserStream"] = {}
        for spec in STREAMS:
            if spec.implementation is not None:
                module_name, class_name = spec.implementation.split(":")
                cls = getattr(importlib.import_module(module_name), class_name)
                streams[spec.name] = cls(self)
        return streams

    def stream_writer(self, name: str) -> Any:
        """The writer facade of a per-user stream: its own object where this
        process is the writer, a replication client of the writer elsewhere."""
        if name not in self._stream_writers:
            from synapse.streams.writer import RemoteStreamWriter

            stream = self.user_streams[name]
            generator = self.id_generators[name]
            if generator.is_writer:
                self._stream_writers[name] = stream
            else:
                self._stream_writers[name] = RemoteStreamWriter(self, type(stream), generator.writers[0])
        return self._stream_writers[name]

    # -- stream writers: local here; over replication on other processes ------
    @cached_property
    def local_event_persister(self) -> Any:
        """The events writer of this process (only used where it writes events)."""
        from synapse.storage.persist_events import EventPersister

        return EventPersister(self)

    @cached_property
    def event_persister(self) -> Any:
        """Persists events: locally when this process is the only events
        writer, else through the room's writer (see synapse/streams/events.py)."""
        from synapse.streams.events import ShardedEventPersister

        generator = self.id_generators["events"]
        if generator.writers == [self.instance_name]:
            return self.local_event_persister
        local = self.local_event_persister if generator.is_writer else None
        return ShardedEventPersister(
            self.instance_name, generator.writers, local, self.replication_client, self.stores.events
        )

    @cached_property
    def push_evaluator(self) -> Any:
        """Push rule evaluation of new events (where events are created)."""
        from synapse.push.bulk import BulkPushRuleEvaluator

        return BulkPushRuleEvaluator(self)

    # -- handlers: accounts ------------------------------------------------
    @cached_property
    def auth_handler(self) -> Any:
        from synapse.handlers.auth import AuthHandler

        return AuthHandler(self)

    @cached_property
    def registration_handler(self) -> Any:
        from synapse.handlers.register import RegistrationHandler

        return RegistrationHandler(self)

    @cached_property
    def device_handler(self) -> Any:
        from synapse.handlers.device import DeviceHandler

        return DeviceHandler(self)

    @cached_property
    def profile_handler(self) -> Any:
        from synapse.handlers.profile import ProfileHandler

        return ProfileHandler(self)

    @cached_property
    def deactivate_account_handler(self) -> Any:
        from synapse.handlers.deactivate_account import DeactivateAccountHandler

        return DeactivateAccountHandler(self)

    # -- handlers: rooms -----------------------------------------------------
    @cached_property
    def state_handler(self) -> Any:
        from synapse.handlers.state import StateHandler

        return StateHandler(self)

    @cached_property
    def event_creation_handler(self) -> Any:
        from synapse.handlers.message import EventCreationHandler

        return EventCreationHandler(self)

    @cached_property
    def room_creation_handler(self) -> Any:
        from synapse.handlers.room import RoomCreationHandler

        return RoomCreationHandler(self)

    @cached_property
    def room_member_handler(self) -> Any:
        from synapse.handlers.room_member import RoomMemberHandler

        return RoomMemberHandler(self)

    @cached_property
    def directory_handler(self) -> Any:
        from synapse.handlers.directory import DirectoryHandler

        return DirectoryHandler(self)

    @cached_property
    def room_list_handler(self) -> Any:
        from synapse.handlers.room_list import RoomListHandler

        return RoomListHandler(self)

    # -- handlers: reading ---------------------------------------------------
    @cached_property
    def filtering(self) -> Any:
        from synapse.api.filtering import Filtering

        return Filtering(self)

    @cached_property
    def sync_handler(self) -> Any:
        from synapse.handlers.sync import SyncHandler

        return SyncHandler(self)

    @cached_property
    def pagination_handler(self) -> Any:
        from synapse.handlers.pagination import PaginationHandler

        return PaginationHandler(self)

    @cached_property
    def visibility(self) -> Any:
        from synapse.handlers.visibility import VisibilityHandler

        return VisibilityHandler(self)

    @cached_property
    def event_stream_handler(self) -> Any:
        from synapse.handlers.events import EventStreamHandler

        return EventStreamHandler(self)

    @cached_property
    def initial_sync_handler(self) -> Any:
        from synapse.handlers.initial_sync import InitialSyncHandler

        return InitialSyncHandler(self)

    @cached_property
    def presence_handler(self) -> Any:
        from synapse.handlers.presence import PresenceHandler

        return PresenceHandler(self)

    # -- handlers: encryption, search, relations, user directory ------------
    @cached_property
    def e2e_keys_handler(self) -> Any:
        from synapse.handlers.e2e_keys import E2eKeysHandler

        return E2eKeysHandler(self)

    @cached_property
    def room_keys_handler(self) -> Any:
        from synapse.handlers.room_keys import RoomKeysHandler

        return RoomKeysHandler(self)

    @cached_property
    def search_handler(self) -> Any:
        from synapse.handlers.search import SearchHandler

        return SearchHandler(self)

    @cached_property
    def relations_handler(self) -> Any:
        from synapse.handlers.relations import RelationsHandler

        return RelationsHandler(self)

    @cached_property
    def user_directory_handler(self) -> Any:
        from synapse.handlers.user_directory import UserDirectoryHandler

        return UserDirectoryHandler(self)
