"""The stream registry: each stream declared once.

A stream is a totally ordered log of positions written by one writer
instance, or, when `sharded_by` is set, by several writers each owning a
shard (the events stream is sharded by room). Positions are allocated by the
stream's `StreamIdGenerator`; a reader never hands a client a position beyond
what every writer has persisted.

`STREAMS` are the streams clients page through: each has a position in sync
tokens and writers placed by `stream_writers`. `INSTANCE_STREAMS` are
internal streams that every process writes for itself (its own rows, its
own position per instance) and that never appear in client tokens: the
`caches` stream of cache invalidations.
"""

from typing import Optional

import attrs


@attrs.frozen
class StreamSpec:
    """One stream: its name, its config key in `stream_writers`, and its shard key."""

    name: str
    # key under `stream_writers` in homeserver.yaml that places its writers;
    # None for an instance stream (every process writes its own rows)
    writers_config_key: Optional[str]
    # "room" when several writers each own the rooms that hash to them
    sharded_by: Optional[str] = None
    # "module:Class" of the stream's implementation (a `UserStream`: local
    # writer, reader hook and /sync contribution); None for streams wired
    # by hand (events, caches)
    implementation: Optional[str] = None


EVENTS = StreamSpec("events", "events", sharded_by="room")
ACCOUNT_DATA = StreamSpec(
    "account_data", "account_data", implementation="synapse.streams.account_data:AccountDataStream"
)
TYPING = StreamSpec("typing", "typing", implementation="synapse.streams.typing:TypingStream")
RECEIPTS = StreamSpec("receipts", "receipts", implementation="synapse.streams.receipts:ReceiptsStream")
TO_DEVICE = StreamSpec("to_device", "to_device", implementation="synapse.streams.to_device:ToDeviceStream")
PRESENCE = StreamSpec("presence", "presence", implementation="synapse.streams.presence:PresenceStream")
PUSH_RULES = StreamSpec("push_rules", "push_rules", implementation="synapse.streams.push_rules:PushRulesStream")
DEVICE_LISTS = StreamSpec(
    "device_lists", "device_lists", implementation="synapse.streams.device_lists:DeviceListsStream"
)
# invalidations of named caches (synapse/util/caches.py), table cache_invalidations
CACHES = StreamSpec("caches", None)

# Order matters: it is the order of positions inside a sync token. Append
# new streams at the end so that older tokens still parse.
STREAMS: tuple[StreamSpec, ...] = (
    EVENTS,
    ACCOUNT_DATA,
    TYPING,
    RECEIPTS,
    TO_DEVICE,
    PRESENCE,
    PUSH_RULES,
    DEVICE_LISTS,
)
INSTANCE_STREAMS: tuple[StreamSpec, ...] = (CACHES,)

STREAMS_BY_NAME: dict[str, StreamSpec] = {s.name: s for s in STREAMS + INSTANCE_STREAMS}
