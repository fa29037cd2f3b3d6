"""`UserStream`: the shape every per-user stream takes.

A stream module subclasses it once and is named in the registry
(`StreamSpec.implementation`); HomeServer then derives everything else by
loops over the registry: the id generator, the writer facade (this object
on the stream's writer, `RemoteStreamWriter` elsewhere, through one generic
replication endpoint), the reader hook that wakes waiters on other
processes, and the stream's part of every /sync response.

Write methods (those listed in `WRITE_METHODS`) run only on the writer;
they take JSON-serialisable keyword arguments and return the position they
wrote, so that the same call works over replication (the caller waits for
that position). They write through `_write`, which allocates the position,
records it in the same transaction and notifies after commit.
"""

from typing import TYPE_CHECKING, Any, Callable, ClassVar, Collection, Optional

import attrs

from synapse.replication.positions import StreamUpdates

if TYPE_CHECKING:
    from synapse.api.filtering import FilterCollection
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


@attrs.frozen
class SyncContext:
    """What a stream needs to contribute to one /sync."""

    user_id: str
    device_id: Optional[str]
    # positions on this stream: (from_pos, to_pos]; from_pos is 0 on an initial sync
    from_pos: int
    to_pos: int
    joined_room_ids: Collection[str]
    filter: "FilterCollection"
    # the since token's position even on a full_state sync (0 on an initial
    # sync): what the client acknowledged having received (to_device deletes up to it)
    since_pos: int = 0
    # the events stream positions of the same sync, (events_from_pos,
    # events_to_pos]: which memberships changed (presence tells new peers)
    events_from_pos: int = 0
    events_to_pos: int = 0
    # an initial or full_state sync: the client wants everything, not
    # only changes (a position of 0 may also be a since token's)
    full: bool = False


@attrs.define
class SyncContribution:
    """A stream's part of a /sync: top-level sections and per-joined-room sections."""

    top_level: dict[str, Any] = attrs.field(factory=dict)
    rooms: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    # where the contribution stopped when the stream capped it below
    # `to_pos` (a per-sync limit): next_batch carries this position, so the
    # next sync continues from there
    position: Optional[int] = None

    def __bool__(self) -> bool:
        return bool(self.top_level or self.rooms)


class UserStream:
    """Base of a registry-declared stream; see the module docstring."""

    NAME: ClassVar[str]
    WRITE_METHODS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    @property
    def _generator(self) -> Any:
        return self._hs.id_generators[self.NAME]

    async def _write(
        self,
        desc: str,
        txn_fn: Callable[..., None],
        *args: Any,
        users: Collection[str] = (),
        rooms: Collection[str] = (),
    ) -> int:
        """Runs `txn_fn(txn, stream_id, *args)` in one transaction at a new
        position, records the writer's position with it, and after commit
        wakes the waiters of `users` and `rooms`; returns the position."""

        def txn_with_position(txn: Any, stream_id: int) -> None:
            txn_fn(txn, stream_id, *args)
            self._generator.record_position_txn(txn, stream_id)

        async with self._generator.get_next() as stream_id:
            await self._hs.db.runInteraction(desc, txn_with_position, stream_id)
        self._hs.notifier.on_new_event(self.NAME, stream_id, rooms=rooms, users=users)
        return stream_id

    def _changed_since(self, entities: Collection[str], since: int) -> Optional[set[str]]:
        """Which of `entities` (rooms, users) this stream changed after
        `since`, from this process's change cache; None when it cannot tell
        (ask the database)."""
        cache = self._hs.notifier.changes(self.NAME)
        return cache.changed_since(entities, since) if cache is not None else None

    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        """Who a remote writer's range touched (readers wake their waiters)."""
        return None

    async def sync(self, ctx: SyncContext) -> SyncContribution:
        """This stream's part of a /sync between two positions."""
        return SyncContribution()

    async def joined_room_fields(self, ctx: SyncContext, room_ids: Collection[str]) -> dict[str, JsonDict]:
        """Fields this stream adds to the joined rooms a /sync answers with
        (after every stream contributed); they never make a room appear."""
        return {}
