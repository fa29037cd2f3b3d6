"""The push_rules stream: each user's push rules, and their unread counts in /sync.

Writes happen on the stream's writer (`stream_writers.push_rules`, default
main) as read-modify-writes of the user's rule document (schema 97) under
a per-user lock, so concurrent edits never lose one another; validation
that needs the current rules (missing rule, bad `before`/`after`) happens
there too and reaches the client through the replication call. Each write
drops the user's compiled rules from the evaluator's cache here, and
`read_updates` does so on every other process.

In /sync the full ruleset goes to the top-level `account_data` as
`m.push_rules` on an initial sync and whenever the user's rules changed.
Every joined room in a sync response gets its `unread_notifications`
(and per-thread counts when the filter asks) through `joined_room_fields`,
which never makes a room appear by itself: rooms with new notifying events
appear through their timeline, rooms whose counts dropped through the
user's receipt.
"""

import json
from typing import Any, Collection, Optional

from synapse.push.rules import find_rule, new_user_rule, ruleset_json, with_attribute, with_rule_deleted, with_rule_put
from synapse.replication.positions import StreamUpdates
from synapse.storage.database import DatabasePool
from synapse.streams.base import SyncContext, SyncContribution, UserStream
from synapse.util.linearizer import KeyedLinearizer

JsonDict = dict[str, Any]
PUSH_RULES_TYPE = "m.push_rules"


def _store_document_txn(txn: Any, stream_id: int, user_id: str, document: JsonDict) -> None:
    DatabasePool.simple_upsert_txn(
        txn, "push_rules", {"user_id": user_id}, {"rules": json.dumps(document), "stream_id": stream_id}
    )


class PushRulesStream(UserStream):
    NAME = "push_rules"
    WRITE_METHODS = ("put_rule", "delete_rule", "set_rule_attribute")

    def __init__(self, hs: Any) -> None:
        super().__init__(hs)
        self._lock = KeyedLinearizer()

    # -- writes (on the writer only) -------------------------------------------
    async def put_rule(
        self, user_id: str, kind: str, rule_id: str, body: JsonDict, before: Optional[str], after: Optional[str]
    ) -> int:
        rule = new_user_rule(kind, rule_id, body)
        return await self._edit(user_id, lambda doc: with_rule_put(doc, kind, rule, before, after))

    async def delete_rule(self, user_id: str, kind: str, rule_id: str) -> int:
        return await self._edit(user_id, lambda doc: with_rule_deleted(doc, kind, rule_id))

    async def set_rule_attribute(self, user_id: str, kind: str, rule_id: str, attribute: str, value: Any) -> int:
        return await self._edit(user_id, lambda doc: with_attribute(doc, kind, rule_id, attribute, value))

    async def _edit(self, user_id: str, change: Any) -> int:
        async with self._lock.queue(user_id):
            document = change(await self._hs.stores.push_rules.get_document(user_id))
            position = await self._write("put_push_rules", _store_document_txn, user_id, document, users=[user_id])
        self._hs.push_evaluator.invalidate_rules([user_id])
        return position

    # -- readers ---------------------------------------------------------------
    async def read_updates(self, instance: str, from_pos: int, to_pos: int) -> Optional[StreamUpdates]:
        users = await self._hs.stores.push_rules.get_users_changed_between(from_pos, to_pos)
        self._hs.push_evaluator.invalidate_rules(users)
        return StreamUpdates(users=users)

    async def get_ruleset(self, user_id: str) -> JsonDict:
        """The user's `global` ruleset as clients see it."""
        return ruleset_json(await self._hs.stores.push_rules.get_document(user_id), user_id)

    async def get_rule(self, user_id: str, kind: str, rule_id: str) -> Any:
        return find_rule(await self._hs.stores.push_rules.get_document(user_id), kind, rule_id)

    async def sync(self, ctx: SyncContext) -> SyncContribution:
        if not ctx.full:
            if ctx.to_pos <= ctx.from_pos:
                return SyncContribution()
            changed_at = await self._hs.stores.push_rules.get_stream_id(ctx.user_id)
            if not ctx.from_pos < changed_at <= ctx.to_pos:
                return SyncContribution()
        event = {"type": PUSH_RULES_TYPE, "content": {"global": await self.get_ruleset(ctx.user_id)}}
        if not ctx.filter.account_data_filter.filter([event]):
            return SyncContribution()
        return SyncContribution(top_level={"account_data": {"events": [event]}})

    async def joined_room_fields(self, ctx: SyncContext, room_ids: Collection[str]) -> dict[str, JsonDict]:
        if not room_ids:
            return {}
        by_thread = ctx.filter.unread_thread_notifications
        counts = await self._hs.stores.event_push_actions.get_unread_counts(ctx.user_id, room_ids)
        fields: dict[str, JsonDict] = {}
        for room_id in room_ids:
            threads = counts.get(room_id, {})
            if by_thread:
                main = threads.get("main", (0, 0))
                others = {t: _counts_json(c) for t, c in threads.items() if t != "main" and c != (0, 0)}
                fields[room_id] = {"unread_notifications": _counts_json(main), "unread_thread_notifications": others}
            else:
                total = (sum(c[0] for c in threads.values()), sum(c[1] for c in threads.values()))
                fields[room_id] = {"unread_notifications": _counts_json(total)}
        return fields


def _counts_json(counts: tuple[int, int]) -> JsonDict:
    return {"notification_count": counts[0], "highlight_count": counts[1]}
