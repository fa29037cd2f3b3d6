"""Which users and rooms a stream changed after a position, as this process saw it.

Every change reaches the notifier with the rooms and users it touched
(`Notifier.on_new_event`): a local write right after its commit, in the
same reactor turn as its writer position moves; a remote write once its
range has been read, before the position moves here
(`ReplicationPositions`). So when /sync reads a stream's token, every change
up to it is recorded, at a position no lower than the change's own, and a
stream can answer "which of these rooms or users changed after `since`"
without a query. The answer is None when `since` is older than what this
process has seen (it started later, a range could not be read, or entries
were dropped to bound memory): the caller then asks the database.
"""

from typing import Iterable, Optional

# entities one cache remembers before it drops the older half
MAX_ENTITIES = 100_000


class StreamChangeCache:
    def __init__(self, earliest_known: int, max_entities: int = MAX_ENTITIES) -> None:
        """`earliest_known`: the stream's token when recording began; changes
        at or below it were never recorded here."""
        self._earliest_known = earliest_known
        self._max_entities = max_entities
        self._last_change: dict[str, int] = {}

    def record(self, position: int, entities: Iterable[str]) -> None:
        for entity in entities:
            if position > self._last_change.get(entity, -1):
                self._last_change[entity] = position
        if len(self._last_change) > self._max_entities:
            self._drop_older_half()

    def forget_before(self, position: int) -> None:
        """Changes up to `position` are unknown here (their range could not be read)."""
        self._earliest_known = max(self._earliest_known, position)

    def changed_since(self, entities: Iterable[str], since: int) -> Optional[set[str]]:
        """The entities changed after `since`, or None when this cache cannot tell."""
        if since < self._earliest_known:
            return None
        return {entity for entity in entities if self._last_change.get(entity, -1) > since}

    def _drop_older_half(self) -> None:
        # whatever is dropped changed at or before the newest dropped
        # position: from then on only later `since` values are answered
        ordered = sorted(self._last_change.items(), key=lambda item: item[1])
        half = len(ordered) // 2
        self._earliest_known = max(self._earliest_known, ordered[half - 1][1])
        self._last_change = dict(ordered[half:])
