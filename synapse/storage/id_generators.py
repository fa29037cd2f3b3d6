"""Stream ids and stream positions, for one or several writer processes.

Every stream (events, receipts, to-device, ...) orders its rows by integer
ids taken from one shared sequence (a PostgreSQL SEQUENCE `<stream>_seq`; a
row of `stream_sequences` on SQLite), so ids are unique across all writers.
Writers persist rows concurrently and finish out of order, so "the latest id"
is not a safe token. Instead each writer has a *position*: every id that
writer allocated up to it is persisted (or abandoned, e.g. rolled back). The
stream's *current token* is the minimum over all writers' positions: every
id at or below it, from any writer, is persisted, so a reader can hand it
to clients without ever skipping a row that commits later.

Local positions follow the local in-flight ids: with ids in flight, the
position stops just below the smallest unfinished one (and, while ids are
still being fetched from the sequence, at the highest position known when
the fetch began, since fetches can return out of order); with nothing in
flight, it moves up to the highest position known from any writer, because
whatever this writer allocates next comes from the sequence and is higher.
Other writers' positions arrive through `advance()`, fed by replication.
The replication layer should publish `get_current_token_for_writer(own
instance)` whenever it changes, including after an `advance()` moved an idle
writer along; otherwise readers' tokens wait for the idle writer.

Positions are stored in `stream_positions` inside the writer's own
transaction (`record_position_txn`), so a process starting up (or a reader
starting while writers run) begins from positions that are really persisted.
"""

import logging
import threading
from types import TracebackType
from typing import Generic, TypeVar

from synapse.storage.database import DatabasePool, LoggingTransaction
from synapse.storage.engines._base import check_identifier

logger = logging.getLogger(__name__)

T = TypeVar("T")

_POSITIONS_TABLE = "stream_positions"


class StreamIdGenerator:
    """Positions for one stream, knowing which writer instance it is (multi-writer capable).

    Build with `await StreamIdGenerator.create(...)`. All methods except
    `record_position_txn` are called on the reactor thread."""

    def __init__(
        self,
        db: DatabasePool,
        stream_name: str,
        instance_name: str,
        writers: list[str],
        positions: dict[str, int],
    ) -> None:
        self._db = db
        self.stream_name = stream_name
        self.instance_name = instance_name
        self.writers = list(writers)
        self.is_writer = instance_name in writers
        self._sequence = f"{stream_name}_seq"
        self._lock = threading.Lock()
        self._positions = dict(positions)
        # id -> key of the allocation it came from (its highest id)
        self._unfinished: dict[int, int] = {}
        # one floor per id fetch in progress: the ids it returns are above it
        self._pending_floors: list[int] = []
        self._max_allocated = positions.get(instance_name, 0)

    @classmethod
    async def create(cls, db: DatabasePool, stream_name: str, instance_name: str, writers: list[str]) -> "StreamIdGenerator":
        """Load stored positions, make sure the sequence exists past them,
        and (for a writer) store this writer's starting position."""
        check_identifier(stream_name)
        if not writers:
            raise ValueError(f"Stream {stream_name!r} needs at least one writer")
        positions = await db.runInteraction(
            "stream_id_generator_load", _load_positions_txn, stream_name, instance_name, list(writers)
        )
        return cls(db, stream_name, instance_name, writers, positions)

    # -- allocation ----------------------------------------------------------

    def get_next(self) -> "_Allocation[int]":
        """`async with gen.get_next() as stream_id:` allocate one id; leaving
        the block (after the caller's transaction committed, or failed) marks
        it finished."""
        return _Allocation(self, 1, single=True)

    def get_next_mult(self, n: int) -> "_Allocation[list[int]]":
        """Like `get_next`, for `n` ids at once (ascending)."""
        if n < 1:
            raise ValueError("get_next_mult needs n >= 1")
        return _Allocation(self, n, single=False)

    async def _allocate(self, n: int) -> list[int]:
        if not self.is_writer:
            raise RuntimeError(f"{self.instance_name!r} is not a writer of stream {self.stream_name!r}")
        # Fetches run concurrently on database threads and can return in
        # another order than the sequence gave out ids, so an id fetched
        # first may still be unknown here when a later one is already
        # persisted. Until a fetch returns, this writer's position stays at
        # or below its floor: every id the sequence gives out from now on
        # is above all positions and allocations known now.
        with self._lock:
            floor = max(self._max_allocated, *self._positions.values())
            self._pending_floors.append(floor)
        try:
            ids = await self._db.runInteraction(
                "stream_id_allocate", self._db.engine.allocate_from_sequence_txn, self._sequence, n
            )
        except BaseException:
            with self._lock:
                self._pending_floors.remove(floor)
                self._update_local_position()
            raise
        with self._lock:
            self._pending_floors.remove(floor)
            for stream_id in ids:
                self._unfinished[stream_id] = ids[-1]
            self._max_allocated = max(self._max_allocated, ids[-1])
            self._update_local_position()
        return ids

    def _mark_finished(self, ids: list[int]) -> None:
        with self._lock:
            for stream_id in ids:
                self._unfinished.pop(stream_id, None)
            self._update_local_position()

    def _update_local_position(self) -> None:
        """Recompute this writer's position (lock held); it never goes back."""
        if not self.is_writer:
            return
        current = self._positions[self.instance_name]
        if self._unfinished:
            position = min(self._unfinished) - 1
        else:
            position = max(self._max_allocated, *self._positions.values())
        if self._pending_floors:
            position = min(position, *self._pending_floors)
        self._positions[self.instance_name] = max(current, position)

    # -- positions -----------------------------------------------------------

    def get_current_token(self) -> int:
        """The highest position P such that every id <= P, from every writer,
        is persisted: safe to hand to clients."""
        with self._lock:
            return min(self._positions[w] for w in self.writers)

    def get_persisted_upto_position(self) -> int:
        """Same as `get_current_token`: positions only ever cover ids known
        to be persisted, so there is no separate, more eager bound here."""
        return self.get_current_token()

    def get_current_token_for_writer(self, instance: str) -> int:
        """Position of one writer: its ids up to here are persisted."""
        with self._lock:
            if instance not in self._positions:
                raise KeyError(f"{instance!r} is not a writer of stream {self.stream_name!r}")
            return self._positions[instance]

    def get_positions(self) -> dict[str, int]:
        """Every writer's position."""
        with self._lock:
            return dict(self._positions)

    def advance(self, instance: str, position: int) -> None:
        """Learn (from replication) that `instance` has persisted everything
        it allocated up to `position`. Positions never go back."""
        with self._lock:
            if instance == self.instance_name:
                return  # our own position is tracked locally
            if instance not in self._positions:
                logger.debug("Ignoring position of %r, not a writer of %s", instance, self.stream_name)
                return
            self._positions[instance] = max(self._positions[instance], position)
            self._update_local_position()

    def record_position_txn(self, txn: LoggingTransaction, stream_id: int) -> None:
        """In the writer's transaction that persists `stream_id` (and the
        other ids of its allocation): store this writer's position as of the
        commit. Ids of other in-flight allocations below `stream_id` hold the
        stored position below them, so a reader starting up never takes a
        position that a still-running transaction could fill in later."""
        if not self.is_writer:
            raise RuntimeError(f"{self.instance_name!r} is not a writer of stream {self.stream_name!r}")
        with self._lock:
            batch = self._unfinished.get(stream_id)
            others = [i for i, key in self._unfinished.items() if i < stream_id and key != batch]
            floors = list(self._pending_floors)
        position = min(others) - 1 if others else stream_id
        if floors:
            position = min(position, *floors)
        _store_position_txn(txn, self.stream_name, self.instance_name, position)


class _Allocation(Generic[T]):
    """The async context manager returned by `get_next`/`get_next_mult`."""

    def __init__(self, generator: StreamIdGenerator, n: int, single: bool) -> None:
        self._generator = generator
        self._n = n
        self._single = single
        self._ids: list[int] = []

    async def __aenter__(self) -> T:
        self._ids = await self._generator._allocate(self._n)
        return self._ids[0] if self._single else list(self._ids)  # type: ignore[return-value]

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._generator._mark_finished(self._ids)


def _store_position_txn(txn: LoggingTransaction, stream_name: str, instance_name: str, position: int) -> None:
    """Upsert a writer's stored position, keeping the higher of old and new."""
    txn.execute(
        f"INSERT INTO {_POSITIONS_TABLE} (stream_name, instance_name, position) VALUES (?, ?, ?)"
        f" ON CONFLICT (stream_name, instance_name) DO UPDATE SET position = CASE"
        f" WHEN excluded.position > {_POSITIONS_TABLE}.position THEN excluded.position"
        f" ELSE {_POSITIONS_TABLE}.position END",
        (stream_name, instance_name, position),
    )


def _load_positions_txn(txn: LoggingTransaction, stream_name: str, instance_name: str, writers: list[str]) -> dict[str, int]:
    engine = txn.database_engine
    sequence = f"{stream_name}_seq"
    txn.execute(f"SELECT instance_name, position FROM {_POSITIONS_TABLE} WHERE stream_name = ?", (stream_name,))
    stored = {name: int(position) for name, position in txn}
    engine.ensure_sequence_txn(txn, sequence, max(stored.values(), default=0))
    # Read the sequence first, positions second: a writer whose row we do
    # not see has not allocated anything yet, so everything it ever
    # allocates will be above this sequence value.
    sequence_value = engine.get_sequence_value_txn(txn, sequence)
    txn.execute(f"SELECT instance_name, position FROM {_POSITIONS_TABLE} WHERE stream_name = ?", (stream_name,))
    stored = {name: int(position) for name, position in txn}
    positions = {writer: stored.get(writer, sequence_value) for writer in writers}
    if instance_name in writers:
        # Starting up, nothing of ours is in flight: ids we allocated before
        # a restart are persisted or lost for good.
        positions[instance_name] = max(stored.get(instance_name, 0), sequence_value)
        _store_position_txn(txn, stream_name, instance_name, positions[instance_name])
    return positions


async def load_stored_position(db: DatabasePool, stream_name: str, instance_name: str) -> int:
    """A writer's position as recorded with its writes (0 if it never wrote):
    what readers fall back on while replication is down."""
    rows = await db.execute(
        "load_stored_position",
        f"SELECT position FROM {_POSITIONS_TABLE} WHERE stream_name = ? AND instance_name = ?",
        stream_name,
        instance_name,
    )
    return int(rows[0][0]) if rows else 0
