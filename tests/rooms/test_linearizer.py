"""KeyedLinearizer: one critical section per key at a time, even with cancellations."""

from twisted.internet import defer

from synapse.storage.persist_events import KeyedLinearizer


def _hold(linearizer, key, log, name, gate):
    async def run():
        async with linearizer.queue(key):
            log.append(f"{name} in")
            await gate
            log.append(f"{name} out")

    return defer.ensureDeferred(run())


def test_sections_run_in_order_per_key():
    linearizer = KeyedLinearizer()
    log: list[str] = []
    gates = [defer.Deferred() for _ in range(3)]
    a = _hold(linearizer, "room", log, "a", gates[0])
    b = _hold(linearizer, "room", log, "b", gates[1])
    other = _hold(linearizer, "other", log, "o", gates[2])
    assert log == ["a in", "o in"]
    gates[1].callback(None)  # b's work is ready but a still holds the key
    assert log == ["a in", "o in"]
    gates[0].callback(None)
    assert log == ["a in", "o in", "a out", "b in", "b out"]
    gates[2].callback(None)
    assert a.called and b.called and other.called
    assert linearizer._tails == {}


def test_cancelled_waiter_does_not_let_the_next_in_early():
    linearizer = KeyedLinearizer()
    log: list[str] = []
    gate_a, gate_c = defer.Deferred(), defer.succeed(None)
    a = _hold(linearizer, "room", log, "a", gate_a)
    b = _hold(linearizer, "room", log, "b", defer.succeed(None))
    b.cancel()
    b.addErrback(lambda f: f.trap(defer.CancelledError))
    c = _hold(linearizer, "room", log, "c", gate_c)
    assert log == ["a in"]
    gate_a.callback(None)
    assert log == ["a in", "a out", "c in", "c out"]
    assert a.called and c.called
    assert linearizer._tails == {}
