"""Room servlets: createRoom, membership, send, state, redact.

Reading a room's history (event by id, context, members, messages) is in
the reading area's servlets, not here.
"""

import re
from typing import Any, Optional, Pattern

from twisted.web.server import Request

from synapse.api.errors import AuthError, Codes, NotFoundError, SynapseError
from synapse.events.model import JsonDict
from synapse.events.serialize import serialize_event
from synapse.http.servlet import (
    CLIENT_VERSIONS,
    RestServlet,
    assert_params_in_dict,
    client_patterns,
    parse_json_object_from_request,
    parse_string,
)
from synapse.types import Requester

_MEMBERSHIP_ACTIONS = ("join", "invite", "leave", "kick", "ban", "unban")


def _client_regex(regex: str) -> list[Pattern[str]]:
    """Patterns for a path with hand-written regex parts, under each client version."""
    return [re.compile(f"^/_matrix/client/{v}{regex}$") for v in CLIENT_VERSIONS]


def _optional_string(body: JsonDict, key: str) -> Optional[str]:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise SynapseError(400, f"'{key}' must be a string", Codes.BAD_JSON)
    return value


def _check_room_id(room_id: str) -> None:
    if not room_id.startswith("!"):
        raise SynapseError(400, f"{room_id!r} is not a room id", Codes.INVALID_PARAM)


class RoomCreateRestServlet(RestServlet):
    """POST /createRoom"""

    PATTERNS = client_patterns("/createRoom")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._handler = hs.room_creation_handler

    async def on_POST(self, request: Request) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request)
        body = parse_json_object_from_request(request, allow_empty_body=True)
        room_id, alias = await self._handler.create_room(requester, body)
        result: JsonDict = {"room_id": room_id}
        if alias is not None:
            result["room_alias"] = alias
        return 200, result


class JoinRoomAliasServlet(RestServlet):
    """POST /join/{roomIdOrAlias} and POST /knock/{roomIdOrAlias}"""

    PATTERNS = _client_regex(r"/(?P<action>join|knock)/(?P<room_identifier>[^/]+)")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._directory = hs.directory_handler
        self._members = hs.room_member_handler

    async def on_POST(self, request: Request, action: str, room_identifier: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request, allow_guest=action == "join")
        body = parse_json_object_from_request(request, allow_empty_body=True)
        room_id = await self._directory.resolve_room_id(room_identifier)
        await self._members.update_membership(
            requester, requester.user_id, room_id, action, reason=_optional_string(body, "reason")
        )
        return 200, {"room_id": room_id}


class RoomMembershipRestServlet(RestServlet):
    """POST /rooms/{roomId}/{join,invite,leave,kick,ban,unban}"""

    PATTERNS = _client_regex(r"/rooms/(?P<room_id>[^/]+)/(?P<action>" + "|".join(_MEMBERSHIP_ACTIONS) + ")")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._members = hs.room_member_handler

    async def on_POST(self, request: Request, room_id: str, action: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request, allow_guest=action in ("join", "leave"))
        _check_room_id(room_id)
        body = parse_json_object_from_request(request, allow_empty_body=True)
        reason = _optional_string(body, "reason")
        if action in ("join", "leave"):
            target = requester.user_id
        else:
            assert_params_in_dict(body, ["user_id"])
            target = body["user_id"]
            if not isinstance(target, str):
                raise SynapseError(400, "'user_id' must be a string", Codes.BAD_JSON)
        await self._members.update_membership(requester, target, room_id, action, reason=reason)
        return 200, {"room_id": room_id} if action == "join" else {}


class RoomForgetRestServlet(RestServlet):
    """POST /rooms/{roomId}/forget"""

    PATTERNS = client_patterns("/rooms/{room_id}/forget")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._members = hs.room_member_handler

    async def on_POST(self, request: Request, room_id: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request)
        _check_room_id(room_id)
        await self._members.forget(requester, room_id)
        return 200, {}


class RoomSendEventRestServlet(RestServlet):
    """PUT /rooms/{roomId}/send/{eventType}/{txnId}"""

    PATTERNS = client_patterns("/rooms/{room_id}/send/{event_type}/{txn_id}")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._creation = hs.event_creation_handler

    async def on_PUT(self, request: Request, room_id: str, event_type: str, txn_id: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        _check_room_id(room_id)
        content = parse_json_object_from_request(request)
        if event_type == "m.room.member":
            raise SynapseError(400, "Membership changes go through the membership APIs", Codes.BAD_JSON)
        event_dict: JsonDict = {"type": event_type, "room_id": room_id, "content": content}
        if event_type == "m.room.redaction" and isinstance(content.get("redacts"), str):
            event_dict["redacts"] = content["redacts"]
        event = await self._creation.create_and_send_event(requester, event_dict, txn_id=txn_id)
        return 200, {"event_id": event.event_id}


class RoomRedactEventRestServlet(RestServlet):
    """PUT /rooms/{roomId}/redact/{eventId}/{txnId}"""

    PATTERNS = client_patterns("/rooms/{room_id}/redact/{event_id}/{txn_id}")

    def __init__(self, hs: Any) -> None:
        self._auth = hs.auth
        self._creation = hs.event_creation_handler

    async def on_PUT(self, request: Request, room_id: str, event_id: str, txn_id: str) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        _check_room_id(room_id)
        body = parse_json_object_from_request(request, allow_empty_body=True)
        content: JsonDict = {}
        reason = _optional_string(body, "reason")
        if reason is not None:
            content["reason"] = reason
        event = await self._creation.create_and_send_event(
            requester,
            {"type": "m.room.redaction", "room_id": room_id, "redacts": event_id, "content": content},
            txn_id=txn_id,
        )
        return 200, {"event_id": event.event_id}


class RoomStateEventRestServlet(RestServlet):
    """GET/PUT /rooms/{roomId}/state/{eventType}[/{stateKey}]"""

    PATTERNS = _client_regex(r"/rooms/(?P<room_id>[^/]+)/state/(?P<event_type>[^/]+)(?:/(?P<state_key>[^/]*))?")

    def __init__(self, hs: Any) -> None:
        self._hs = hs
        self._auth = hs.auth

    async def on_GET(
        self, request: Request, room_id: str, event_type: str, state_key: str = ""
    ) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        _check_room_id(room_id)
        output = parse_string(request, "format", "content", allowed_values=("content", "event"))
        state = await visible_state_ids(self._hs, requester, room_id)
        event_id = state.get((event_type, state_key))
        event = await self._hs.stores.events.get_event(event_id, allow_none=True) if event_id else None
        if event is None:
            raise NotFoundError(f"No {event_type} state with key {state_key!r} in the room")
        if output == "event":
            return 200, serialize_event(event, self._hs.clock.time_msec())
        return 200, event.content

    async def on_PUT(
        self, request: Request, room_id: str, event_type: str, state_key: str = ""
    ) -> tuple[int, JsonDict]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        _check_room_id(room_id)
        content = parse_json_object_from_request(request)
        if event_type == "m.room.member":
            event_id = await self._send_membership(requester, room_id, state_key, content)
        else:
            event = await self._hs.event_creation_handler.create_and_send_event(
                requester, {"type": event_type, "room_id": room_id, "state_key": state_key, "content": content}
            )
            event_id = event.event_id
        return 200, {"event_id": event_id}

    async def _send_membership(self, requester: Requester, room_id: str, target: str, content: JsonDict) -> str:
        """A member event sent as state still follows the membership rules."""
        membership = content.get("membership")
        if not isinstance(membership, str):
            raise SynapseError(400, "m.room.member content must have a string 'membership'", Codes.BAD_JSON)
        action = membership
        if membership == "leave" and target != requester.user_id:
            current = await self._hs.stores.members.get_membership(room_id, target)
            action = "unban" if current is not None and current[0] == "ban" else "kick"
        extra = {k: v for k, v in content.items() if k not in ("membership", "reason")}
        return await self._hs.room_member_handler.update_membership(
            requester,
            target,
            room_id,
            action,
            reason=_optional_string(content, "reason"),
            content=extra if membership != "join" or extra else None,
        )


class RoomStateRestServlet(RestServlet):
    """GET /rooms/{roomId}/state"""

    PATTERNS = client_patterns("/rooms/{room_id}/state")

    def __init__(self, hs: Any) -> None:
        self._hs = hs
        self._auth = hs.auth

    async def on_GET(self, request: Request, room_id: str) -> tuple[int, list[JsonDict]]:
        requester = await self._auth.get_user_by_req(request, allow_guest=True)
        _check_room_id(room_id)
        state = await visible_state_ids(self._hs, requester, room_id)
        events = await self._hs.stores.events.get_events_as_list(state.values())
        now = self._hs.clock.time_msec()
        return 200, [serialize_event(e, now) for e in events]


async def visible_state_ids(hs: Any, requester: Requester, room_id: str) -> dict[tuple[str, str], str]:
    """The room state the requester may see: the current state for members
    (and anyone when history is world readable), the state when they left
    for former members; otherwise 403."""
    stores = hs.stores
    await stores.rooms.get_room_version(room_id)
    membership = await stores.members.get_membership(room_id, requester.user_id)
    if membership is not None and membership[0] == "join":
        return await stores.state.get_current_state_ids(room_id)
    if membership is not None and membership[0] in ("leave", "ban"):
        return await stores.state.get_state_ids_for_event(membership[1])
    visibility = await stores.state.get_current_state_event(room_id, "m.room.history_visibility")
    if visibility is not None and visibility.content.get("history_visibility") == "world_readable":
        return await stores.state.get_current_state_ids(room_id)
    raise AuthError(403, "You are not in the room and its history is not world readable")
