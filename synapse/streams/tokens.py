"""Tokens handed to clients: sync tokens and room (pagination) tokens.

A sync token is `s` followed by one position per registered stream, joined by
`_`, in registry order. Tokens from before a stream was added simply have
fewer parts; missing positions read as 0.

A room token orders events either by stream (`s<stream>`, for /sync) or by
topology (`t<depth>-<stream>`, for /messages).
"""

from typing import Mapping, Optional

import attrs

from synapse.api.errors import Codes, SynapseError
from synapse.streams.registry import STREAMS


@attrs.frozen
class StreamToken:
    """A position in every registered stream."""

    positions: Mapping[str, int]

    @classmethod
    def from_string(cls, token: str) -> "StreamToken":
        try:
            if not token.startswith("s"):
                raise ValueError(token)
            parts = [int(p) for p in token[1:].split("_")] if len(token) > 1 else []
            if any(p < 0 for p in parts):
                raise ValueError(token)
        except ValueError:
            raise SynapseError(400, f"Invalid stream token {token!r}", Codes.INVALID_PARAM)
        values = {spec.name: (parts[i] if i < len(parts) else 0) for i, spec in enumerate(STREAMS)}
        return cls(values)

    def to_string(self) -> str:
        return "s" + "_".join(str(self.positions.get(spec.name, 0)) for spec in STREAMS)

    def get(self, stream: str) -> int:
        return self.positions.get(stream, 0)

    @property
    def room_key(self) -> int:
        """Position on the events stream."""
        return self.get("events")

    def copy_and_replace(self, stream: str, position: int) -> "StreamToken":
        return StreamToken({**self.positions, stream: position})

    def is_after(self, other: "StreamToken") -> bool:
        """Whether any stream in self is ahead of other."""
        return any(self.get(s.name) > other.get(s.name) for s in STREAMS)


@attrs.frozen(order=True)
class RoomStreamToken:
    """A position in one room's history: `t<depth>-<stream>` or `s<stream>`."""

    topological: Optional[int]
    stream: int

    @classmethod
    def parse(cls, token: str) -> "RoomStreamToken":
        try:
            if token.startswith("t"):
                depth, stream = token[1:].split("-", 1)
                return cls(int(depth), int(stream))
            if token.startswith("s"):
                # a sync token is accepted as a room token (clients pass
                # next_batch as `from`): its first part is the events position
                return cls(None, int(token[1:].split("_", 1)[0]))
        except ValueError:
            pass
        raise SynapseError(400, f"Invalid pagination token {token!r}", Codes.INVALID_PARAM)

    def to_string(self) -> str:
        if self.topological is not None:
            return f"t{self.topological}-{self.stream}"
        return f"s{self.stream}"
