"""The to_device stream: send-to-device messages for local devices.

A send is one write at one position: a row per recipient device in
`device_inbox` (a `*` device expands to every device the recipient has at
send time; unknown users and devices are skipped, as the spec allows) and
the sender's transaction id in the same transaction, so that a retried
request delivers nothing twice. Remote recipients are skipped until
federation exists.

In /sync a device gets its rows in (since, now], at most
`SYNC_MESSAGE_LIMIT` of them; when it gets that many, the token's to_device
position stops at the last one delivered, so the next sync continues from
there. A row is deleted only when the device syncs with a since token at or
past its position (the client acknowledged it): a repeated sync with the
same since gets the same messages again, and none comes back once
acknowledged. The deletion is a write of this stream too (on its writer),
as is dropping a deleted device's whole inbox.
"""

import json
import logging
from typing import Any, Optional

from synapse.replication.positions import StreamUpdates
from synapse.streams.base import SyncContext, SyncContribution, UserStream
from synapse.types import UserID
from synapse.util.linearizer import KeyedLinearizer

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
# messages handed to one device per /sync; the rest come with the next one
SYNC_MESSAGE_LIMIT = 100
# devices whose emptied-inbox position one process remembers
EMPTIED_INBOXES_KEPT = 100_000
# how long a sender's transaction id guards against a retry
TXN_ID_LIFETIME_MS = 24 * 3600 * 1000


def _send_txn(
    txn: Any,
    stream_id: int,
    sender: str,
    sender_device: str,
    txn_id: str,
    now_ms: int,
    rows: list[tuple[str, str, str]],
) -> None:
    """Inserts the messages unless this sender already used `txn_id`."""
    txn.execute(
        "DELETE FROM device_inbox_txns WHERE user_id = ? AND device_id = ? AND received_ts < ?",
        (sender, sender_device, now_ms - TXN_ID_LIFETIME_MS),
    )
    txn.execute(
        "SELECT 1 FROM device_inbox_txns WHERE user_id = ? AND device_id = ? AND txn_id = ?",
        (sender, sender_device, txn_id),
    )
    if txn.fetchone() is not None:
        return
    txn.execute(
        "INSERT INTO device_inbox_txns (user_id, device_id, txn_id, stream_id, received_ts) VALUES (?, ?, ?, ?, ?)",
        (sender, sender_device, txn_id, stream_id, now_ms),
    )
    txn.executemany(
        "INSERT INTO device_inbox (user_id, device_id, stream_id, message_json) VALUES (?, ?, ?, ?)",
        [(user_id, device_id, stream_id, message_json) for user_id, device_id, message_json in rows],
    )


def _delete_txn(txn: Any, stream_id: int, user_id: str, device_id: str, up_to: int) -> None:
    txn.execute(
        "DELETE FROM device_inbox WHERE user_id = ? AND device_id = ? AND stream_id <= ?", (user_id, device_id, up_to)
    )


def _delete_inboxes_txn(txn: Any, stream_id: int, user_id: str, device_ids: list[str]) -> None:
    txn.executemany("DELETE FROM device_inbox WHERE user_id = ? AND device_id = ?", [(user_id, d) for d in device_ids])


class ToDeviceStream(UserStream):
    NAME = "to_device"
    WRITE_METHODS = ("send_messages", "delete_acknowledged", "delete_inboxes")

    def __init__(self, hs: Any) -> None:
        super().__init__(hs)
        # one send per sending device at a time: its txn id check and insert
        # must not interleave with a concurrent retry of the same request
        self._sender_lock = KeyedLinearizer()
        # (user, device) -> a position up to which its inbox is known empty:
        # nothing at or below an acknowledged sync token can arrive later,
        # so a long-poll woken by other streams skips the inbox check
        self._emptied_upto: dict[tuple[str, str], int] = {}

    # -- writes (on the writer only) -------------------------------------------
    async def send_messages(
        self, sender: str, sender_device: str, txn_id: str, message_type: str, messages: dict[str, JsonDict]
    ) -> int:
        """Queues `messages` ({user_id: {device_id or "*": content}}) for the
        local recipients' devices; a repeated `txn_id` of the same sending
        device writes nothing."""
        rows = await self._expand_recipients(sender, message_type, messages)
        recipients = sorted({user_id for user_id, _, _ in rows})
        async with self._sender_lock.queue((sender, sender_device)):
            return await self._write(
                "send_to_device",
                _send_txn,
                sender,
                sender_device,
                txn_id,
                self._hs.clock.time_msec(),
                rows,
                users=recipients,
            )

    async def delete_acknowledged(self, user_id: str, device_id: str, up_to: int) -> int:
        """Deletes the device's messages at or before `up_to` (acknowledged by a sync)."""
        return await self._write("delete_to_device", _delete_txn, user_id, device_id, up_to)

    async def delete_inboxes(self, user_id: str, device_ids: list[str]) -> int:
        """Drops every queued message of the deleted devices."""
        return await self._write("delete_device_inboxes", _delete_inboxes_txn, user_id, device_ids)

    async def _expand_recipients(
        self, sender: str, message_type: str, messages: dict[str, JsonDict]
    ) -> list[tuple[str, str, str]]:
        """(user_id, device_id, message_json) per local recipient device; an
        explicitly named device wins over `*` for the same user."""
        rows: list[tuple[str, str, str]] = []
        for user_id, by_device in messages.items():
            if UserID.from_string(user_id).domain != self._hs.hostname:
                logger.info("Not sending to-device message to remote user %s: no federation yet", user_id)
                continue
            devices = {d["device_id"] for d in await self._hs.stores.devices.get_devices_by_user(user_id)}
            contents: dict[str, JsonDict] = {}
            if "*" in by_device:
                contents = {device_id: by_device["*"] for device_id in devices}
            contents.update({d: c for d, c in by_device.items() if d != "*" and d in devices})
            for device_id, content in sorted(contents.items()):
                message = {"sender": sender, "type": message_type, "content": content}
                rows.append((user_id, device_id, json.dumps(message)))
        return rows

    def _note_emptied(self, inbox: tuple[str, str], upto: int) -> None:
        if len(self._emptied_upto) >= EMPTIED_INBOXES_KEPT:
            self._emptied_upto.clear()  # only an optimisation: start over
        self._emptied_upto[inbox] = upto

    # -- readers ---------------------------------------------------------------
    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        users = await self._hs.stores.to_device.get_users_with_messages_between(from_pos, to_pos)
        return StreamUpdates(users=users)

    async def sync(self, ctx: SyncContext) -> SyncContribution:
        if ctx.device_id is None:
            return SyncContribution()
        store = self._hs.stores.to_device
        acknowledged = ctx.since_pos
        inbox = (ctx.user_id, ctx.device_id)
        if acknowledged > self._emptied_upto.get(inbox, 0):
            if await store.has_messages_up_to(ctx.user_id, ctx.device_id, acknowledged):
                await self._hs.stream_writer(self.NAME).delete_acknowledged(
                    user_id=ctx.user_id, device_id=ctx.device_id, up_to=acknowledged
                )
            self._note_emptied(inbox, acknowledged)
        if ctx.to_pos <= acknowledged or self._changed_since([ctx.user_id], acknowledged) == set():
            return SyncContribution()
        found = await store.get_messages_for_device(
            ctx.user_id, ctx.device_id, acknowledged, ctx.to_pos, SYNC_MESSAGE_LIMIT + 1
        )
        if not found:
            return SyncContribution()
        contribution = SyncContribution()
        if len(found) > SYNC_MESSAGE_LIMIT:
            found = found[:SYNC_MESSAGE_LIMIT]
            contribution.position = found[-1].stream_id
        contribution.top_level["to_device"] = {"events": [m.message for m in found]}
        return contribution
