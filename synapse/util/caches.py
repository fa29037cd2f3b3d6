"""One bounded LRU cache implementation, and the registry of named caches.

Every in-memory cache of the server (access tokens, events, state groups)
is an `LruCache`. A cache whose entries can go stale when another process
writes (access tokens: a logout on one worker) is registered by name in the
process's `CacheRegistry`; the `caches` stream (synapse/streams/caches.py)
carries "invalidate these keys of that cache" between processes and calls
`CacheRegistry.invalidate` everywhere.

Loading a value races with invalidation: a reader may fetch a row, the row
is deleted and the invalidation applied, and only then does the reader put
what it fetched. `begin_load()`/`set(..., load_token=...)` closes that
window: a value loaded before any invalidation of the cache is not kept.
"""

import logging
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, Optional, TypeVar

from prometheus_client import Counter, Gauge

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

cache_lookups = Counter("synapse_cache_lookups", "Lookups in in-memory caches", ["name", "result"])
cache_invalidations = Counter("synapse_cache_invalidations", "Keys invalidated in in-memory caches", ["name"])
cache_size = Gauge("synapse_cache_size", "Entries held by in-memory caches", ["name"])


class LruCache(Generic[K, V]):
    """A dict bounded to `max_size` entries, evicting the least recently used."""

    def __init__(self, name: str, max_size: int) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.name = name
        self.max_size = max_size
        self._entries: "OrderedDict[K, V]" = OrderedDict()
        # bumped by every invalidation; see the module docstring
        self._invalidations = 0
        self._hits = cache_lookups.labels(name, "hit")
        self._misses = cache_lookups.labels(name, "miss")
        self._invalidated = cache_invalidations.labels(name)
        self._size = cache_size.labels(name)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> Optional[V]:
        """The cached value (marking it recently used), or None."""
        value = self._entries.get(key)
        if value is None:
            self._misses.inc()
            return None
        self._hits.inc()
        self._entries.move_to_end(key)
        return value

    def begin_load(self) -> int:
        """A token to pass to `set` for a value about to be loaded."""
        return self._invalidations

    def set(self, key: K, value: V, load_token: Optional[int] = None) -> bool:
        """Stores `value`; with `load_token`, only if nothing was invalidated
        since `begin_load()` returned it. Returns whether it was stored."""
        if load_token is not None and load_token != self._invalidations:
            return False
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)
        self._size.set(len(self._entries))
        return True

    def invalidate(self, keys: Iterable[K]) -> None:
        """Forgets `keys` (present or not) and voids loads in progress."""
        self._invalidations += 1
        for key in keys:
            self._invalidated.inc()
            self._entries.pop(key, None)
        self._size.set(len(self._entries))

    def clear(self) -> None:
        self._invalidations += 1
        self._entries.clear()
        self._size.set(0)


class CacheRegistry:
    """The named caches of one process that other processes may invalidate."""

    def __init__(self) -> None:
        self._caches: dict[str, LruCache] = {}

    def register(self, cache: LruCache) -> None:
        if cache.name in self._caches and self._caches[cache.name] is not cache:
            raise ValueError(f"a cache named {cache.name!r} is already registered")
        self._caches[cache.name] = cache

    def get(self, name: str) -> Optional[LruCache]:
        return self._caches.get(name)

    def names(self) -> list[str]:
        return sorted(self._caches)

    def invalidate(self, name: str, keys: Iterable[Hashable]) -> None:
        """Invalidates keys of a named cache; unknown names are ignored (the
        cache may not have been built yet in this process: nothing to drop)."""
        cache = self._caches.get(name)
        if cache is None:
            logger.debug("No cache %r here to invalidate", name)
            return
        cache.invalidate(keys)
