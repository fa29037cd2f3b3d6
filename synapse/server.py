"""HomeServer: builds, on first use, every component one process needs.

This is the one place (with synapse/config) that reads the process role:
it decides which stream writers are local and which are reached over
replication, and which routes this process serves. Handlers and stores never
ask "am I the writer?"; they are handed the right implementation here.
"""

import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any, Optional

from twisted.internet.interfaces import IReactorCore
from twisted.web.resource import IResource

from synapse.http.server import JsonResource
from synapse.notifier import Notifier
from synapse.streams.tokens import StreamToken
from synapse.util.clock import Clock

if TYPE_CHECKING:
    from synapse.storage.database import DatabasePool
    from synapse.storage.databases import DataStores
    from synapse.storage.id_generators import StreamIdGenerator

logger = logging.getLogger(__name__)

# resources that a listener's resource name mounts
_RESOURCE_ALIASES = {"client": ("client", "admin")}


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

    # -- lifecycle ---------------------------------------------------------
    async def setup(self) -> None:
        """Opens the database, brings the schema up to date and loads stream positions."""
        from synapse.storage.database import make_database_pool
        from synapse.storage.databases import DataStores
        from synapse.storage.id_generators import StreamIdGenerator
        from synapse.storage.prepare import prepare_database
        from synapse.streams.registry import STREAMS

        self._db = make_database_pool(self.reactor, self.config.database.name, self.config.database.args)
        await prepare_database(self._db, allow_upgrade=self.config.worker.is_main)
        for spec in STREAMS:
            writers = self.config.worker.writers_for(spec.writers_config_key)
            self.id_generators[spec.name] = await StreamIdGenerator.create(
                self._db, spec.name, self.instance_name, writers
            )
        self._stores = DataStores(self._db, self.clock, self.id_generators)
        logger.info("Server %s (instance %s) set up", self.hostname, self.instance_name)

    async def shutdown(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    def build_listener_resource(self, resource_names: list[str]) -> IResource:
        """A JSON resource serving every route of the given listener resources."""
        from synapse.routes import build_routes

        wanted = {alias for name in resource_names for alias in _RESOURCE_ALIASES.get(name, (name,))}
        resource = JsonResource()
        for route in build_routes():
            if route.resource in wanted and self._serves(route):
                route.servlet(self).register(resource)  # type: ignore[call-arg]
        return resource

    def current_token(self) -> "StreamToken":
        """The position of every stream that this process can serve to clients."""
        return StreamToken({name: gen.get_current_token() for name, gen in self.id_generators.items()})

    def _serves(self, route: Any) -> bool:
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

    # -- stream writers: local here; over replication on other processes ------
    @cached_property
    def event_persister(self) -> Any:
        """Persists events for the rooms this process's event writers own."""
        from synapse.storage.persist_events import EventPersister

        return EventPersister(self)

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
