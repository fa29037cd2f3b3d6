"""Run Twisted code from synchronous tests, on a real reactor.

The global reactor runs in one daemon thread for the whole test session;
`run(...)` hands work to it and blocks the test thread until the result is
ready. Tests stay plain functions:

    def test_x(db_pool):
        assert run(db_pool.simple_select_one_onecol("t", {"k": 1}, "v")) == 2

Everything Twisted-side (creating pools, calling stores) must happen on the
reactor thread: pass a coroutine, or a callable that `run` calls there.
"""

import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, Union

from twisted.internet import defer
from twisted.python.failure import Failure

T = TypeVar("T")

_start_lock = threading.Lock()
_reactor_thread: threading.Thread | None = None


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


def start_reactor() -> None:
    """Start the reactor thread (idempotent; `run` calls it for you)."""
    global _reactor_thread
    with _start_lock:
        if _reactor_thread is not None:
            return
        reactor = _reactor()
        started = threading.Event()
        reactor.callWhenRunning(started.set)
        thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, name="test-reactor", daemon=True
        )
        thread.start()
        if not started.wait(10):
            raise RuntimeError("The Twisted reactor did not start within 10s")
        _reactor_thread = thread


def stop_reactor(timeout: float = 10.0) -> None:
    """Stop the reactor at the end of the session (runs shutdown triggers,
    such as closing database pools). It cannot be started again."""
    with _start_lock:
        thread = _reactor_thread
        if thread is None:
            return
        _reactor().callFromThread(_reactor().stop)
        thread.join(timeout)


Work = Union[Awaitable[T], "defer.Deferred[T]", Callable[[], Any]]


def run(work: Work, timeout: float = 30.0) -> Any:
    """Run `work` on the reactor thread and return its result (or raise its
    exception here). `work` is a coroutine, a Deferred, or a zero-argument
    callable returning a value, a coroutine or a Deferred. On timeout the
    work is cancelled and TimeoutError raised."""
    start_reactor()
    if threading.current_thread() is _reactor_thread:
        raise RuntimeError("run() called on the reactor thread: await the work instead")
    reactor = _reactor()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def _begin() -> None:
        try:
            value = work() if callable(work) and not isinstance(work, defer.Deferred) else work
            if inspect.iscoroutine(value):
                value = defer.ensureDeferred(value)
            d = value if isinstance(value, defer.Deferred) else defer.succeed(value)
        except BaseException:  # noqa: BLE001 - every failure goes back to the test thread
            outcome["result"] = Failure()
            done.set()
            return
        outcome["deferred"] = d

        def _finish(result: Any) -> None:
            outcome["result"] = result
            done.set()

        d.addBoth(_finish)

    reactor.callFromThread(_begin)
    if not done.wait(timeout):
        deferred = outcome.get("deferred")
        if deferred is not None:
            reactor.callFromThread(deferred.cancel)
        raise TimeoutError(f"{work!r} did not finish within {timeout}s")
    result = outcome["result"]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def run_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Call a plain function on the reactor thread and return its result;
    for Twisted APIs that are not thread-safe (e.g. creating a pool)."""
    return run(lambda: fn(*args))
