"""tests.support.twisted.run: the bridge every storage test relies on."""

import threading

import pytest
from twisted.internet import defer, reactor, task

from tests.support.twisted import run


async def _sleep_then(value, seconds: float = 0.01):
    await task.deferLater(reactor, seconds, lambda: None)
    return threading.current_thread().name, value


def test_runs_coroutines_on_the_reactor_thread():
    assert run(_sleep_then(3)) == ("test-reactor", 3)


def test_accepts_callables_and_deferreds():
    assert run(lambda: _sleep_then(4)) == ("test-reactor", 4)
    assert run(lambda: defer.succeed(5)) == 5
    assert run(lambda: 6) == 6
    assert run(lambda: threading.current_thread().name) == "test-reactor"


def test_reraises_the_original_exception():
    async def fail():
        await task.deferLater(reactor, 0, lambda: None)
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        run(fail())


def test_timeout_cancels_the_work():
    cancelled = threading.Event()

    def never():
        return defer.Deferred(lambda d: cancelled.set())

    with pytest.raises(TimeoutError):
        run(never, timeout=0.05)
    assert cancelled.wait(5)
