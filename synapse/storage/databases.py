"""The per-area stores of one process, composed over one database pool.

Each store owns the tables of its area and gets what it needs through its
constructor; there is no god object and no mixin chain. Stores are built on
first use. Write SQL for a stream lives only in that stream's local writer
(e.g. storage/persist_events.py for events), never in read stores.
"""

from functools import cached_property
from typing import TYPE_CHECKING

from synapse.storage.database import DatabasePool
from synapse.util.clock import Clock

if TYPE_CHECKING:
    from synapse.storage.id_generators import StreamIdGenerator
    from synapse.storage.stores.account_data import AccountDataStore
    from synapse.storage.stores.device_lists import DeviceListsStore
    from synapse.storage.stores.devices import DeviceStore
    from synapse.storage.stores.directory import DirectoryStore
    from synapse.storage.stores.e2e_keys import E2eKeysStore
    from synapse.storage.stores.event_push_actions import EventPushActionsStore
    from synapse.storage.stores.events_read import EventsReadStore
    from synapse.storage.stores.filtering import FilteringStore
    from synapse.storage.stores.presence import PresenceStore
    from synapse.storage.stores.profile import ProfileStore
    from synapse.storage.stores.push_rules import PushRulesStore
    from synapse.storage.stores.receipts import ReceiptsStore
    from synapse.storage.stores.registration import RegistrationStore
    from synapse.storage.stores.relations import RelationsStore
    from synapse.storage.stores.room_keys import RoomKeysStore
    from synapse.storage.stores.roommember import RoomMemberStore
    from synapse.storage.stores.rooms import RoomStore
    from synapse.storage.stores.search import SearchStore
    from synapse.storage.stores.state import StateStore
    from synapse.storage.stores.stream import StreamStore
    from synapse.storage.stores.to_device import ToDeviceStore
    from synapse.storage.stores.typing import TypingStore
    from synapse.storage.stores.user_directory import UserDirectoryStore


class DataStores:
    def __init__(self, db: DatabasePool, clock: Clock, id_generators: "dict[str, StreamIdGenerator]") -> None:
        self.db = db
        self.clock = clock
        self.id_generators = id_generators

    # -- accounts --------------------------------------------------------
    @cached_property
    def registration(self) -> "RegistrationStore":
        from synapse.storage.stores.registration import RegistrationStore

        return RegistrationStore(self.db, self.clock)

    @cached_property
    def devices(self) -> "DeviceStore":
        from synapse.storage.stores.devices import DeviceStore

        return DeviceStore(self.db, self.clock)

    @cached_property
    def profile(self) -> "ProfileStore":
        from synapse.storage.stores.profile import ProfileStore

        return ProfileStore(self.db)

    @cached_property
    def filtering(self) -> "FilteringStore":
        from synapse.storage.stores.filtering import FilteringStore

        return FilteringStore(self.db)

    # -- rooms and events ------------------------------------------------
    @cached_property
    def events(self) -> "EventsReadStore":
        from synapse.storage.stores.events_read import EventsReadStore

        return EventsReadStore(self.db)

    @cached_property
    def state(self) -> "StateStore":
        from synapse.storage.stores.state import StateStore

        return StateStore(self.db, self.events)

    @cached_property
    def rooms(self) -> "RoomStore":
        from synapse.storage.stores.rooms import RoomStore

        return RoomStore(self.db)

    @cached_property
    def members(self) -> "RoomMemberStore":
        from synapse.storage.stores.roommember import RoomMemberStore

        return RoomMemberStore(self.db, self.events)

    @cached_property
    def directory(self) -> "DirectoryStore":
        from synapse.storage.stores.directory import DirectoryStore

        return DirectoryStore(self.db)

    @cached_property
    def stream(self) -> "StreamStore":
        from synapse.storage.stores.stream import StreamStore

        return StreamStore(self.db, self.events, self.id_generators["events"])

    # -- encryption, search, relations, user directory -----------------------
    @cached_property
    def e2e_keys(self) -> "E2eKeysStore":
        from synapse.storage.stores.e2e_keys import E2eKeysStore

        return E2eKeysStore(self.db, self.clock)

    @cached_property
    def room_keys(self) -> "RoomKeysStore":
        from synapse.storage.stores.room_keys import RoomKeysStore

        return RoomKeysStore(self.db)

    @cached_property
    def search(self) -> "SearchStore":
        from synapse.storage.stores.search import SearchStore

        return SearchStore(self.db, self.events)

    @cached_property
    def relations(self) -> "RelationsStore":
        from synapse.storage.stores.relations import RelationsStore

        return RelationsStore(self.db, self.events)

    @cached_property
    def user_directory(self) -> "UserDirectoryStore":
        from synapse.storage.stores.user_directory import UserDirectoryStore

        return UserDirectoryStore(self.db)

    # -- per-user streams ----------------------------------------------------
    @cached_property
    def account_data(self) -> "AccountDataStore":
        from synapse.storage.stores.account_data import AccountDataStore

        return AccountDataStore(self.db)

    @cached_property
    def typing(self) -> "TypingStore":
        from synapse.storage.stores.typing import TypingStore

        return TypingStore(self.db)

    @cached_property
    def receipts(self) -> "ReceiptsStore":
        from synapse.storage.stores.receipts import ReceiptsStore

        return ReceiptsStore(self.db)

    @cached_property
    def push_rules(self) -> "PushRulesStore":
        from synapse.storage.stores.push_rules import PushRulesStore

        return PushRulesStore(self.db)

    @cached_property
    def event_push_actions(self) -> "EventPushActionsStore":
        from synapse.storage.stores.event_push_actions import EventPushActionsStore

        return EventPushActionsStore(self.db)

    @cached_property
    def to_device(self) -> "ToDeviceStore":
        from synapse.storage.stores.to_device import ToDeviceStore

        return ToDeviceStore(self.db)

    @cached_property
    def presence(self) -> "PresenceStore":
        from synapse.storage.stores.presence import PresenceStore

        return PresenceStore(self.db)

    @cached_property
    def device_lists(self) -> "DeviceListsStore":
        from synapse.storage.stores.device_lists import DeviceListsStore

        return DeviceListsStore(self.db)
