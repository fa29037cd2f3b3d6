"""Token-bucket rate limiting, as configured by the rc_* options.

Each `Ratelimiter` holds one bucket per key (a user id, an IP, a room id);
buckets refill at `per_second` up to `burst_count`. Exceeding it raises
M_LIMIT_EXCEEDED with retry_after_ms.
"""

from typing import Hashable, Optional

from synapse.api.errors import LimitExceededError
from synapse.util.clock import Clock


class Ratelimiter:
    def __init__(self, clock: Clock, per_second: float, burst_count: int) -> None:
        self._clock = clock
        self.per_second = per_second
        self.burst_count = burst_count
        # key -> (tokens used, time of last update in seconds)
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def can_do_action(self, key: Hashable, n: int = 1, update: bool = True) -> tuple[bool, float]:
        """Whether `n` actions fit now; and if not, seconds until they would."""
        now = self._clock.time()
        used, last = self._buckets.get(key, (0.0, now))
        used = max(0.0, used - (now - last) * self.per_second)
        allowed = used + n <= self.burst_count
        if allowed and update:
            used += n
        if update or allowed:
            self._buckets[key] = (used, now)
        retry_after = 0.0 if allowed or self.per_second <= 0 else (used + n - self.burst_count) / self.per_second
        self._prune(now)
        return allowed, retry_after

    def ratelimit(self, key: Hashable, n: int = 1, update: bool = True) -> None:
        allowed, retry_after = self.can_do_action(key, n, update)
        if not allowed:
            raise LimitExceededError(retry_after_ms=int(retry_after * 1000) + 1)

    def record_action(self, key: Hashable, n: int = 1) -> None:
        """Counts actions that happened regardless of the limit (e.g. failed logins)."""
        now = self._clock.time()
        used, last = self._buckets.get(key, (0.0, now))
        used = max(0.0, used - (now - last) * self.per_second)
        self._buckets[key] = (used + n, now)

    def _prune(self, now: float) -> None:
        if len(self._buckets) < 10_000:
            return
        horizon = self.burst_count / self.per_second if self.per_second > 0 else 0
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < horizon}


def ratelimiter_from_settings(clock: Clock, settings: Optional[object]) -> Ratelimiter:
    """Builds a limiter from a config RatelimitSettings(per_second, burst_count)."""
    return Ratelimiter(clock, float(settings.per_second), int(settings.burst_count))  # type: ignore[union-attr]
