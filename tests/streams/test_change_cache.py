"""StreamChangeCache: what it can answer, and when it must say it cannot."""

from synapse.streams.change_cache import StreamChangeCache


def test_changed_since_answers_from_recorded_positions() -> None:
    cache = StreamChangeCache(earliest_known=10)
    cache.record(12, ["!a", "@u"])
    cache.record(15, ["!b"])
    assert cache.changed_since(["!a", "!b", "!c", "@u"], 10) == {"!a", "!b", "@u"}
    assert cache.changed_since(["!a", "!b", "!c"], 12) == {"!b"}
    assert cache.changed_since(["!a", "!b"], 15) == set()
    # an earlier change recorded late never moves an entity back
    cache.record(11, ["!b"])
    assert cache.changed_since(["!b"], 12) == {"!b"}


def test_older_positions_than_recorded_cannot_be_answered() -> None:
    cache = StreamChangeCache(earliest_known=10)
    cache.record(12, ["!a"])
    assert cache.changed_since(["!a"], 9) is None
    cache.forget_before(13)  # a range up to 13 could not be read
    assert cache.changed_since(["!a"], 12) is None
    assert cache.changed_since(["!a"], 13) == set()


def test_dropping_entries_keeps_answers_correct() -> None:
    cache = StreamChangeCache(earliest_known=0, max_entities=4)
    for position, room in enumerate(["!r1", "!r2", "!r3", "!r4", "!r5"], start=1):
        cache.record(position, [room])
    # the older half (positions 1 and 2) went: `since` below 2 is unknown now
    assert cache.changed_since(["!r1"], 1) is None
    assert cache.changed_since(["!r1", "!r2", "!r3", "!r5"], 2) == {"!r3", "!r5"}
