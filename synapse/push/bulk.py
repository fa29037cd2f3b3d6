"""Evaluates a new event's push rules for every local member it may notify.

Runs where the event is created (synapse/handlers/message.py), before it
is persisted: the results ride on the `EventContext` (also through the
persist_event replication call) and the events writer stores them in the
event's own transaction, so an event and its notifications commit
together, and the persister (one per room shard) spends no time on it.

Recipients are the room's joined local members before the event, except
the sender, plus the target of an invite. Kept cheap for large rooms:

- member rows (user, membership, display name) come from the state at
  hand: a per-room cache holds the joined members of the latest state
  group seen and the rows of its member events; a new state group costs
  one batched query for the member events it changed;
- each user's compiled ruleset is cached (users without changes share the
  compiled server defaults); the push_rules stream drops entries when a
  user's rules change, on every process (elsewhere than on the writer,
  once the change's position has arrived and the stream's reader hook
  has run: events created in between still use the previous rules);
- per event, each distinct ruleset is reduced once to the rules that may
  still match and their per-user conditions (`CompiledRuleset.plan`), so
  a member with the server defaults costs a dict lookup and, at most, a
  check of whether the event mentions them.
"""

from typing import TYPE_CHECKING, Any, Collection, Mapping, Optional

import attrs

from synapse.events.model import FrozenEvent
from synapse.events.power_levels import get_user_power_level
from synapse.events.snapshot import EventContext
from synapse.push.evaluator import DEFAULT_RULESET, CompiledRuleset, EventFacts, Recipient
from synapse.storage.stores.event_push_actions import MAIN_THREAD
from synapse.storage.stores.relations import THREAD, relation_of
from synapse.util.caches import LruCache

if TYPE_CHECKING:
    from synapse.server import HomeServer

JsonDict = dict[str, Any]
# relations followed to find an event's thread (the spec's recommendation)
MAX_THREAD_HOPS = 3
POWER_LEVELS_KEY = ("m.room.power_levels", "")
CREATE_KEY = ("m.room.create", "")


def evaluate_for(
    recipients: Mapping[str, Optional[str]], rulesets: Mapping[str, CompiledRuleset], facts: EventFacts
) -> dict[str, list[Any]]:
    """user -> actions, for the recipients (user -> display name) whose
    first matching rule notifies or highlights."""
    actions: dict[str, list[Any]] = {}
    for user_id, display_name in recipients.items():
        plan = rulesets.get(user_id, DEFAULT_RULESET).plan(facts)
        rule = plan.first_match(facts, Recipient(user_id, display_name)) if plan.candidates else plan.fallback
        if rule is not None and rule.counts:
            actions[user_id] = rule.actions
    return actions


MemberRow = tuple[str, str, Optional[str]]  # user id, membership, display name


@attrs.frozen
class RoomMembers:
    """A room's members at one state group: the rows of its member events
    (immutable, so reused for the next state) and the joined users with
    their display names."""

    state_group: Optional[int]
    rows: dict[str, MemberRow]
    joined: dict[str, Optional[str]]


class BulkPushRuleEvaluator:
    def __init__(self, hs: "HomeServer", rules_cache_size: int = 50_000, members_cache_size: int = 1_000) -> None:
        self._hs = hs
        self._suffix = ":" + hs.hostname
        self._rules: LruCache[str, CompiledRuleset] = LruCache("push_rules_compiled", rules_cache_size)
        self._members: LruCache[str, RoomMembers] = LruCache("push_room_members", members_cache_size)

    def invalidate_rules(self, user_ids: Collection[str]) -> None:
        self._rules.invalidate(user_ids)

    async def compute(self, event: FrozenEvent, context: EventContext) -> None:
        """Fills `context.push_actions` and `context.thread_id` for `event`."""
        context.thread_id = await self.thread_of(event)
        if event.internal_metadata.outlier:
            return
        state = context.state_ids_before
        members = await self._members_at(event.room_id, context)
        recipients = {user_id: name for user_id, name in members.joined.items() if user_id.endswith(self._suffix)}
        recipients.pop(event.sender, None)
        if event.type == "m.room.member" and event.membership == "invite" and event.state_key:
            if event.state_key.endswith(self._suffix):
                recipients.setdefault(event.state_key, None)
        if not recipients:
            return
        rulesets = await self._rulesets_for(recipients)
        facts = await self._facts(event, state, len(members.joined))
        context.push_actions = evaluate_for(recipients, rulesets, facts)

    async def thread_of(self, event: FrozenEvent) -> str:
        """The root of the thread an event belongs to (following up to
        MAX_THREAD_HOPS relations, e.g. a reaction to a thread reply), else "main"."""
        relation = relation_of(event)
        hops = 0
        while relation is not None and hops < MAX_THREAD_HOPS:
            rel_type, parent = relation[0], relation[1]
            if rel_type == THREAD:
                return parent
            relation = await self._hs.stores.push_rules.get_relation(parent)
            hops += 1
        return MAIN_THREAD

    async def _members_at(self, room_id: str, context: EventContext) -> RoomMembers:
        """The room's members in the state before the event; one cache entry
        per room, so a new state costs only the member events it changed."""
        group = context.state_group_before
        cached = self._members.get(room_id)
        if cached is not None and group is not None and cached.state_group == group:
            return cached
        member_ids = [eid for (etype, _), eid in context.state_ids_before.items() if etype == "m.room.member"]
        known = cached.rows if cached is not None else {}
        fetched = await self._hs.stores.push_rules.get_member_rows([e for e in member_ids if e not in known])
        rows = {eid: known.get(eid) or fetched[eid] for eid in member_ids if eid in known or eid in fetched}
        joined = {user: name for user, membership, name in rows.values() if membership == "join"}
        members = RoomMembers(group, rows, joined)
        self._members.set(room_id, members)
        return members

    async def _rulesets_for(self, user_ids: Collection[str]) -> dict[str, CompiledRuleset]:
        found: dict[str, CompiledRuleset] = {}
        missing = []
        for user_id in user_ids:
            ruleset = self._rules.get(user_id)
            if ruleset is None:
                missing.append(user_id)
            else:
                found[user_id] = ruleset
        if missing:
            token = self._rules.begin_load()
            documents = await self._hs.stores.push_rules.get_documents(missing)
            for user_id in missing:
                document = documents.get(user_id)
                ruleset = CompiledRuleset.from_document(document) if document else DEFAULT_RULESET
                self._rules.set(user_id, ruleset, load_token=token)
                found[user_id] = ruleset
        return found

    async def _facts(self, event: FrozenEvent, state: dict, member_count: int) -> EventFacts:
        wanted = [state[key] for key in (POWER_LEVELS_KEY, CREATE_KEY) if key in state]
        events = await self._hs.stores.events.get_unredacted_events(wanted)
        by_key = {key: events[state[key]] for key in (POWER_LEVELS_KEY, CREATE_KEY) if state.get(key) in events}
        power_levels = by_key.get(POWER_LEVELS_KEY)
        notifications = power_levels.content.get("notifications") if power_levels is not None else None
        return EventFacts(
            event=event.get_dict(),
            member_count=member_count,
            sender_power_level=get_user_power_level(event.sender, by_key, by_key.get(CREATE_KEY)),
            notification_levels=notifications if isinstance(notifications, dict) else {},
        )
