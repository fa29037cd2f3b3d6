"""The clock every component uses, so tests can swap in a fake reactor."""

from typing import Any, Callable

from twisted.internet import defer, task
from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Clock:
    def __init__(self, reactor: IReactorTime) -> None:
        self._reactor = reactor

    def time(self) -> float:
        return self._reactor.seconds()

    def time_msec(self) -> int:
        return int(self._reactor.seconds() * 1000)

    async def sleep(self, seconds: float) -> None:
        d: defer.Deferred[None] = defer.Deferred()
        self._reactor.callLater(seconds, d.callback, None)
        await d

    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> IDelayedCall:
        return self._reactor.callLater(seconds, fn, *args)

    def looping_call(self, fn: Callable[[], Any], interval_s: float) -> task.LoopingCall:
        call = task.LoopingCall(fn)
        call.clock = self._reactor
        call.start(interval_s, now=False)
        return call
