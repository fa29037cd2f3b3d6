"""Push evaluation across processes: an event created on a process that is
neither the room's events writer nor the push_rules writer carries its
members' push actions to the persister, which stores them with the event;
a rule change on the push_rules writer drops the compiled rules cached on
the event creator, so the next event uses the new rules."""

import json
import time
from pathlib import Path

from synapse.streams.push_rules import PushRulesStream
from synapse.streams.writer import RemoteStreamWriter
from tests.support.twisted import run
from tests.workers.cluster import Cluster, register, requester


def _message(room_id: str, body: str) -> dict:
    return {"type": "m.room.message", "room_id": room_id, "content": {"msgtype": "m.text", "body": body}}


def _push_rows(hs, event_id: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return run(
        hs.db.execute(
            "push_rows",
            "SELECT user_id, thread_id, actions, notif FROM event_push_actions WHERE event_id = ?",
            event_id,
        )
    )


def test_actions_travel_with_the_event_and_rule_changes_reach_the_creator(tmp_path: Path) -> None:
    cluster = Cluster(
        tmp_path,
        instances=["main", "worker1", "persister1", "writer1"],
        events_writers=["persister1"],
        stream_writers={"push_rules": ["writer1"]},
    )
    try:
        main, worker, persister, writer = cluster.start()
        assert isinstance(worker.stream_writer("push_rules"), RemoteStreamWriter)
        assert isinstance(writer.stream_writer("push_rules"), PushRulesStream)
        alice, bob = run(register(main, "alice")), run(register(main, "bob"))
        room_id, _ = run(
            worker.room_creation_handler.create_room(requester(worker, "alice"), {"preset": "public_chat"})
        )
        run(worker.room_member_handler.update_membership(requester(worker, "bob"), bob, room_id, "join"))

        send = worker.event_creation_handler.create_and_send_event
        first = run(send(requester(worker, "alice"), _message(room_id, "hello")))
        assert first.internal_metadata.instance_name == "persister1"
        assert _push_rows(main, first.event_id) == [
            (bob, "main", json.dumps(["notify", {"set_tweak": "sound", "value": "default"}]), 1)
        ]

        # bob mutes alice on the push_rules writer, through main
        run(main.stream_writer("push_rules").put_rule(
            user_id=bob, kind="sender", rule_id=alice, body={"actions": []}, before=None, after=None
        ))  # fmt: skip
        position = main.current_token().get("push_rules")
        deadline = time.monotonic() + 10
        while worker.current_token().get("push_rules") < position and time.monotonic() < deadline:
            run(lambda: worker.clock.sleep(0.05))
        # the reader hook that drops the cached rules runs right after the
        # position arrives (one query for the users the range touched)
        run(lambda: worker.clock.sleep(0.2))
        second = run(send(requester(worker, "alice"), _message(room_id, "muted")))
        assert _push_rows(main, second.event_id) == []
    finally:
        cluster.stop()
