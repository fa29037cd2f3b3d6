"""Prometheus view of replication: bus health, positions, and reader lag.

Read at scrape time from the bus and `ReplicationPositions`, so nothing has
to be kept up to date by hand. `ReplicationMetrics.install(bus, positions)`
registers it; installing again (another HomeServer in the same Python
process, as in tests) replaces the previous one instead of failing on
duplicate metric names.
"""

import weakref
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from synapse.replication.bus import ReplicationBus
from synapse.replication.positions import ReplicationPositions

# registry -> the collector installed there
_installed: "weakref.WeakKeyDictionary[CollectorRegistry, ReplicationMetrics]" = weakref.WeakKeyDictionary()


class ReplicationMetrics(Collector):
    def __init__(self, bus: ReplicationBus, positions: ReplicationPositions) -> None:
        self._bus = bus
        self._positions = positions

    @classmethod
    def install(
        cls, bus: ReplicationBus, positions: ReplicationPositions, registry: CollectorRegistry = REGISTRY
    ) -> "ReplicationMetrics":
        previous = _installed.pop(registry, None)
        if previous is not None:
            registry.unregister(previous)
        collector = _installed[registry] = cls(bus, positions)
        registry.register(collector)
        return collector

    def collect(self) -> Iterable[Metric]:
        state = self._bus.state()
        yield GaugeMetricFamily(
            "synapse_replication_bus_connected", "1 while the replication bus is connected", value=int(state.connected)
        )
        yield CounterMetricFamily(
            "synapse_replication_bus_reconnects", "Reconnections of the replication bus", value=state.reconnects
        )
        if state.last_message_at is not None:
            yield GaugeMetricFamily(
                "synapse_replication_bus_last_message_timestamp_seconds",
                "When the last replication message arrived",
                value=state.last_message_at,
            )
        seen = GaugeMetricFamily(
            "synapse_replication_instance_last_seen_timestamp_seconds",
            "When the last replication message of each instance arrived",
            labels=["instance"],
        )
        for instance, at in sorted(state.instances_seen.items()):
            seen.add_metric([instance], at)
        yield seen

        positions = GaugeMetricFamily(
            "synapse_replication_stream_position",
            "Each writer's position on each stream, as known by this process",
            labels=["stream", "writer"],
        )
        lag = GaugeMetricFamily(
            "synapse_replication_stream_lag",
            "Furthest known writer position minus this process's token, per stream",
            labels=["stream"],
        )
        for stream, per_writer in sorted(self._positions.stream_positions().items()):
            for writer, position in sorted(per_writer.items()):
                positions.add_metric([stream, writer], position)
            lag.add_metric([stream], self._positions.stream_lag(stream))
        yield positions
        yield lag
