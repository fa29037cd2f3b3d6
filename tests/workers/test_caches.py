"""The shared LRU cache, and invalidating named caches across processes
(the `caches` stream): a logout on one process ends the token everywhere."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from synapse.api.errors import InvalidClientTokenError
from synapse.util.caches import CacheRegistry, LruCache
from tests.replication.util import eventually
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register


def test_lru_evicts_the_least_recently_used() -> None:
    cache: LruCache[str, int] = LruCache("test_lru", 2)
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.set("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_a_load_that_raced_an_invalidation_is_not_kept() -> None:
    cache: LruCache[str, int] = LruCache("test_race", 10)
    load = cache.begin_load()
    cache.invalidate(["k"])  # the row was deleted while we were reading it
    assert cache.set("k", 1, load) is False
    assert cache.get("k") is None
    assert cache.set("k", 2, cache.begin_load()) is True
    assert cache.get("k") == 2


def test_registry_invalidates_by_name_and_ignores_unknown_names() -> None:
    registry = CacheRegistry()
    cache: LruCache[tuple, str] = LruCache("pairs", 10)
    registry.register(cache)
    cache.set(("a", 1), "x")
    registry.invalidate("pairs", [("a", 1)])
    registry.invalidate("not_built_here", ["k"])
    assert ("a", 1) not in cache
    with pytest.raises(ValueError):
        registry.register(LruCache("pairs", 10))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, instances=["main", "worker1"], events_writers=["main"])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_logout_on_one_process_ends_the_token_on_every_process(cluster: Cluster) -> None:
    main, worker = cluster.servers["main"], cluster.servers["worker1"]
    alice = run(register(main, "alice"))
    token = "syt_alice_token"
    run(main.stores.registration.add_access_token(alice, token, "DEV"))
    for hs in (main, worker):
        assert run(hs.auth.get_user_by_access_token(token)).user_id == alice
    worker_cache = worker.caches.get("access_tokens")
    assert worker_cache is not None and token in worker_cache

    run(main.auth_handler.delete_access_token(token))

    run(eventually(lambda: token not in worker_cache, what="worker dropped the token"))
    for hs in (main, worker):
        with pytest.raises(InvalidClientTokenError):
            run(hs.auth.get_user_by_access_token(token))
    rows = run(main.db.execute("rows", "SELECT instance_name, cache_name FROM cache_invalidations"))
    assert rows == [("main", "access_tokens")]


def test_invalidations_heard_after_a_replicate(cluster: Cluster) -> None:
    """A process that missed a position (bus down) catches up when positions
    are re-published: the rows are read from the last position it applied."""
    main, worker = cluster.servers["main"], cluster.servers["worker1"]
    cache: LruCache[str, int] = LruCache("test_replicate", 10)
    worker.caches.register(cache)
    cache.set("k", 1)
    # written without publishing, as if Redis had been unreachable
    run(main.db.runInteraction("write", main.cache_stream._write_txn, "test_replicate", '["k"]', 0))
    assert "k" in cache
    stream_id = run(main.db.execute("max", "SELECT MAX(stream_id) FROM cache_invalidations"))[0][0]
    main.cache_stream._position = stream_id
    main.cache_stream._republish()
    run(eventually(lambda: "k" not in cache, what="worker applied the missed invalidation"))
    assert worker.cache_stream.positions()["main"] == stream_id


def test_main_prunes_old_invalidations(cluster: Cluster) -> None:
    main = cluster.servers["main"]
    run(main.db.runInteraction("old", main.cache_stream._write_txn, "access_tokens", '["x"]', 0))
    run(main.invalidate_cache("access_tokens", ["y"]))
    assert run(main.cache_stream.prune()) == 1
    rows = run(main.db.execute("rows", "SELECT keys_json FROM cache_invalidations"))
    assert rows == [('["y"]',)]
