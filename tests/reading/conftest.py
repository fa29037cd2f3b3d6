"""Fixtures for reading handler tests: a HomeServer on a test database with rooms to read."""

from typing import Any, Optional

import pytest

from synapse.api.filtering import FilterCollection
from synapse.handlers.sync import SyncRequest
from synapse.server import HomeServer
from synapse.storage.database import DatabasePool
from synapse.streams.tokens import StreamToken
from tests.rooms.server import make_homeserver, requester
from tests.support.twisted import run


@pytest.fixture
def hs(db_pool: DatabasePool) -> HomeServer:
    return run(make_homeserver(db_pool))


class Actions:
    """Short names for what the tests do to rooms and read back."""

    def __init__(self, hs: HomeServer) -> None:
        self.hs = hs

    def create(self, who: str, **config: Any) -> str:
        return run(self.hs.room_creation_handler.create_room(requester(who), config))[0]

    def member(self, who: str, target: str, room_id: str, action: str) -> str:
        return run(self.hs.room_member_handler.update_membership(requester(who), target, room_id, action))

    def send(self, who: str, room_id: str, body: str = "x", **content: Any) -> str:
        event = {
            "type": "m.room.message",
            "room_id": room_id,
            "content": {"msgtype": "m.text", "body": body, **content},
        }
        return run(self.hs.event_creation_handler.create_and_send_event(requester(who), event)).event_id

    def state(self, who: str, room_id: str, event_type: str, content: dict, state_key: str = "") -> str:
        event = {"type": event_type, "room_id": room_id, "state_key": state_key, "content": content}
        return run(self.hs.event_creation_handler.create_and_send_event(requester(who), event)).event_id

    def sync(
        self, who: str, since: Optional[str] = None, filter_json: Optional[dict] = None, full_state: bool = False
    ) -> dict:
        request = SyncRequest(
            requester(who),
            FilterCollection(filter_json),
            StreamToken.from_string(since) if since else None,
            full_state,
        )
        return run(self.hs.sync_handler.wait_for_sync_for_user(request, 0))

    def messages(self, who: str, room_id: str, **kwargs: Any) -> dict:
        args = {"from_token": None, "to_token": None, "direction": "b", "limit": None, "event_filter": None, **kwargs}
        return run(self.hs.pagination_handler.get_messages(requester(who), room_id, **args))


@pytest.fixture
def act(hs: HomeServer) -> Actions:
    return Actions(hs)
