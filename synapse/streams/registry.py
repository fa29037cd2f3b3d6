"""The stream registry: each stream declared once.

A stream is a totally ordered log of positions written by one writer
instance, or, when `sharded_by` is set, by several writers each owning a
shard (the events stream is sharded by room). Positions are allocated by the
stream's `StreamIdGenerator`; a reader never hands a client a position beyond
what every writer has persisted.
"""

from typing import Optional

import attrs


@attrs.frozen
class StreamSpec:
    """One stream: its name, its config key in `stream_writers`, and its shard key."""

    name: str
    # key under `stream_writers` in homeserver.yaml that places its writers
    writers_config_key: str
    # "room" when several writers each own the rooms that hash to them
    sharded_by: Optional[str] = None


EVENTS = StreamSpec("events", "events", sharded_by="room")

# Order matters: it is the order of positions inside a sync token. Append
# new streams at the end so that older tokens still parse.
STREAMS: tuple[StreamSpec, ...] = (EVENTS,)

STREAMS_BY_NAME: dict[str, StreamSpec] = {s.name: s for s in STREAMS}
