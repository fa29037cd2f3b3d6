"""Simulated processes for replication tests: each has its own id
generator (several on one database stand for several processes), bus,
notifier and ReplicationPositions."""


from twisted.internet import reactor

from synapse.notifier import Notifier
from synapse.replication.bus import BusState, ReplicationBus
from synapse.replication.positions import ReplicationPositions
from synapse.storage.database import DatabasePool
from synapse.storage.id_generators import StreamIdGenerator
from synapse.util.clock import Clock
from tests.support.twisted import run


class LinkedBus(ReplicationBus):
    """In-memory buses that deliver to each other, like processes on one Redis."""

    def __init__(self, instance_name: str, network: list["LinkedBus"], delay: float | None = None) -> None:
        super().__init__(instance_name)
        self._network = network
        # seconds before other processes hear a publish; None: at once
        self.delay = delay
        network.append(self)

    def publish(self, stream: str, position: int) -> None:
        for bus in self._network:
            if bus is self or self.delay is None:
                bus._deliver(stream, self.instance_name, position)
            else:
                reactor.callLater(self.delay, bus._deliver, stream, self.instance_name, position)  # type: ignore[attr-defined]

    def replicate(self) -> None:
        for bus in self._network:
            bus._replicate_requested()

    def state(self) -> BusState:
        return BusState(state="connected", last_message_at=None, reconnects=0)


class Process:
    """One simulated process: generator, bus, notifier, positions."""

    def __init__(self, pool: DatabasePool, instance: str, writers: list[str], bus: ReplicationBus) -> None:
        self.clock = Clock(reactor)  # type: ignore[arg-type]
        self.instance = instance
        self.gen: StreamIdGenerator = run(StreamIdGenerator.create(pool, "events", instance, writers))
        self.generators = {"events": self.gen}
        self.bus = bus
        self.notifier = Notifier(self.clock)
        self.positions = ReplicationPositions(instance, self.generators, bus, self.notifier, self.clock)

    async def write(self, rooms: tuple[str, ...] = ("!room:hs",)) -> int:
        """What a local writer does: allocate, commit, tell the notifier."""
        async with self.gen.get_next() as stream_id:
            pass
        self.notifier.on_new_event("events", stream_id, rooms=rooms)
        return stream_id
