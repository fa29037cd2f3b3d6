"""GET /notifications: the events the user was notified about, newest first.

Reads only (event_push_actions rows written with each event), so any
process serves it. `from` is the stream ordering to continue below.
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.events.serialize import serialize_event
from synapse.http.servlet import RestServlet, client_patterns, parse_integer, parse_string

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class NotificationsServlet(RestServlet):
    PATTERNS = client_patterns("/notifications")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_GET(self, request: Request) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        from_token = parse_string(request, "from")
        before = None
        if from_token is not None:
            if not from_token.isdigit():
                raise SynapseError(400, "Invalid 'from' token", Codes.INVALID_PARAM)
            before = int(from_token)
        limit = min(parse_integer(request, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT)
        only = parse_string(request, "only")
        rows = await self._hs.stores.event_push_actions.get_notifications(
            requester.user_id, before, limit, only_highlight=only == "highlight"
        )
        events = await self._hs.stores.events.get_events([r.event_id for r in rows])
        now = self._hs.clock.time_msec()
        notifications = [
            {
                "actions": row.actions,
                "event": serialize_event(events[row.event_id], now, include_room_id=False),
                "read": row.read,
                "room_id": row.room_id,
                "ts": row.received_ts,
            }
            for row in rows
            if row.event_id in events
        ]
        body: JsonDict = {"notifications": notifications}
        if len(rows) == limit and rows:
            body["next_token"] = str(rows[-1].stream_ordering)
        return 200, body
