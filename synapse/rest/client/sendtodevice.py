"""PUT /sendToDevice/{eventType}/{txnId}: a thin servlet over the to_device stream.

The write goes through `hs.stream_writer("to_device")` (the stream's own
object on its writer, a replication call elsewhere), which also makes the
transaction id idempotent per sending device.
"""

from typing import TYPE_CHECKING, Any

from twisted.web.server import Request

from synapse.api.errors import Codes, SynapseError
from synapse.http.servlet import RestServlet, assert_params_in_dict, client_patterns, parse_json_object_from_request
from synapse.types import UserID

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]


def validate_messages(messages: Any) -> dict[str, JsonDict]:
    """`messages` must be {user_id: {device_id or "*": content object}}."""
    if not isinstance(messages, dict):
        raise SynapseError(400, "'messages' must be an object", Codes.BAD_JSON)
    for user_id, by_device in messages.items():
        if not UserID.is_valid(user_id):
            raise SynapseError(400, f"{user_id!r} is not a valid user ID", Codes.BAD_JSON)
        if not isinstance(by_device, dict):
            raise SynapseError(400, f"messages for {user_id} must be an object of device IDs", Codes.BAD_JSON)
        for device_id, content in by_device.items():
            if not isinstance(content, dict):
                raise SynapseError(400, f"message for {user_id} {device_id} must be an object", Codes.BAD_JSON)
    return messages


class SendToDeviceRestServlet(RestServlet):
    """PUT /sendToDevice/{eventType}/{txnId}"""

    PATTERNS = client_patterns("/sendToDevice/{eventType}/{txnId}")

    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def on_PUT(self, request: Request, eventType: str, txnId: str) -> tuple[int, JsonDict]:
        requester = await self._hs.auth.get_user_by_req(request)
        body = parse_json_object_from_request(request)
        assert_params_in_dict(body, ("messages",))
        messages = validate_messages(body["messages"])
        await self._hs.stream_writer("to_device").send_messages(
            sender=requester.user_id,
            sender_device=requester.device_id or "",
            txn_id=txnId,
            message_type=eventType,
            messages=messages,
        )
        return 200, {}
