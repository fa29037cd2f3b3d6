"""GET /sync: the user's rooms and streams since a token, long-polling when idle.

One sync is computed from two positions, `since` (absent on an initial
sync) and `now` (hs.current_token() when the computation starts), and
costs a fixed number of store calls whatever the number of rooms: the
user's memberships, their membership changes in (since, now], every
room's timeline in one transaction, state at every timeline start in one
batched call, events by id in one call, and summaries in one transaction.

Rooms are sorted into the spec's sections by the user's membership at
`now`. A room joined during (since, now] (or every room, on an initial or
`full_state` sync) gets its full state at the start of its timeline; other
joined rooms get the state changes between `since` and the timeline start
when the timeline is limited. A left room's timeline stops at the leave.
"""

import logging
from typing import TYPE_CHECKING, Any, Optional

import attrs
from prometheus_client import Histogram

from synapse.api.filtering import FilterCollection
from synapse.events.serialize import strip_event
from synapse.handlers.relations import apply_bundled_aggregations
from synapse.storage.stores.stream import MembershipChange, RoomTimeline, token_before
from synapse.streams.base import SyncContext, SyncContribution
from synapse.streams.device_lists import device_lists_stream
from synapse.streams.tokens import RoomStreamToken, StreamToken
from synapse.types import Requester

if TYPE_CHECKING:
    from synapse.server import HomeServer

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
StateMap = dict[tuple[str, str], str]

sync_duration = Histogram(
    "synapse_sync_compute_seconds",
    "Time to compute one /sync response (excluding the wait)",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# The state a client needs to render an invite or knock (CS API "Stripped state").
STRIPPED_STATE_TYPES = (
    "m.room.create",
    "m.room.join_rules",
    "m.room.name",
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
    "m.room.topic",
)


@attrs.frozen
class SyncRequest:
    requester: Requester
    filter: FilterCollection
    since: Optional[StreamToken]
    full_state: bool = False


@attrs.define
class SyncResult:
    next_batch: StreamToken
    join: dict[str, JsonDict] = attrs.field(factory=dict)
    invite: dict[str, JsonDict] = attrs.field(factory=dict)
    leave: dict[str, JsonDict] = attrs.field(factory=dict)
    knock: dict[str, JsonDict] = attrs.field(factory=dict)
    # top-level sections contributed by per-user streams (account_data, ...)
    top_level: dict[str, Any] = attrs.field(factory=dict)
    # the syncing device's key counts and device list changes: always sent,
    # but only device lists that changed or left are news that ends a long-poll
    device_sections: dict[str, Any] = attrs.field(factory=dict)

    def __bool__(self) -> bool:
        """Whether there is anything to tell the client (ends a long-poll)."""
        device_lists = self.device_sections.get("device_lists", {})
        news = device_lists.get("changed") or device_lists.get("left")
        return bool(self.join or self.invite or self.leave or self.knock or self.top_level or news)

    def to_json(self) -> JsonDict:
        return {
            "next_batch": self.next_batch.to_string(),
            "rooms": {"join": self.join, "invite": self.invite, "leave": self.leave, "knock": self.knock},
            "account_data": {"events": []},
            "presence": {"events": []},
            "to_device": {"events": []},
            "device_lists": {"changed": [], "left": []},
            "device_one_time_keys_count": {},
            **self.top_level,
            **self.device_sections,
        }

    def add_stream_contribution(self, contribution: SyncContribution) -> None:
        """Merges a per-user stream's sections; a joined room that only has
        stream data (e.g. new room account data) still gets its entry."""
        for key, section in contribution.top_level.items():
            if key in self.top_level and "events" in section:
                self.top_level[key] = {"events": self.top_level[key]["events"] + section["events"]}
            else:
                self.top_level[key] = section
        for room_id, sections in contribution.rooms.items():
            room = self.join.get(room_id)
            if room is None:
                room = self.join[room_id] = {
                    "timeline": {"events": [], "limited": False},
                    "state": {"events": []},
                    "account_data": {"events": []},
                    "ephemeral": {"events": []},
                }
            for key, section in sections.items():
                if key in ("ephemeral", "account_data") and key in room:
                    # several streams add events to the same section
                    room[key] = {"events": room[key]["events"] + section["events"]}
                else:
                    room[key] = section


@attrs.define
class _RoomPlan:
    """What to compute for one room: its section and timeline range."""

    room_id: str
    section: str  # join, leave
    from_pos: int
    to_pos: int
    full_state: bool


class SyncHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    async def wait_for_sync_for_user(self, request: SyncRequest, timeout_ms: int) -> JsonDict:
        """The sync response, waiting up to `timeout_ms` for something new when
        this is an incremental sync with nothing to report yet."""
        if request.since is None or request.full_state or timeout_ms <= 0:
            result = await self.current_sync(request)
        else:
            user_id = request.requester.user_id
            rooms = await self._hs.stores.members.get_rooms_for_user(user_id)
            result = await self._hs.notifier.wait_for_events(
                user_id, [r.room_id for r in rooms], timeout_ms, lambda: self.current_sync(request)
            )
        body = result.to_json()
        if not self._hs.config.presence.enabled:
            # like Synapse: no presence section at all when presence is off
            del body["presence"]
        return body

    async def current_sync(self, request: SyncRequest) -> SyncResult:
        """One sync from `request.since` up to the current position."""
        kind = "initial" if request.since is None else ("full_state" if request.full_state else "incremental")
        with sync_duration.labels(kind).time():
            return await self._compute(request, self._hs.current_token())

    async def _compute(self, request: SyncRequest, now: StreamToken) -> SyncResult:
        stores = self._hs.stores
        user_id = request.requester.user_id
        fc = request.filter
        since_pos = min(request.since.room_key, now.room_key) if request.since is not None else 0
        now_pos = now.room_key
        result = SyncResult(next_batch=now)

        memberships = await self._memberships_at(user_id, now_pos)
        changes: dict[str, list[MembershipChange]] = {}
        if request.since is not None and now_pos > since_pos:
            for change in await stores.stream.get_membership_changes_for_user(user_id, since_pos, now_pos):
                changes.setdefault(change.room_id, []).append(change)

        # membership at `since` for rooms that changed, to tell new joins
        # from profile changes (join -> join)
        at_since: dict[str, Optional[str]] = {}
        if changes:
            history = await stores.stream.get_membership_history(user_id, sorted(changes), to_pos=since_pos)
            at_since = {r: (h[-1].membership if h else None) for r, h in history.items()}

        allowed_rooms = set(fc.filter_room_ids(memberships))
        forgotten: set[str] = set()
        if any(m.membership in ("leave", "ban") for m in memberships.values()):
            forgotten = await stores.members.get_forgotten_rooms_for_user(user_id)
        plans: list[_RoomPlan] = []
        pending: list[MembershipChange] = []  # invites and knocks
        for room_id, member in memberships.items():
            if room_id not in allowed_rooms:
                continue
            changed = room_id in changes
            if member.membership == "join":
                newly_joined = changed and at_since.get(room_id) != "join"
                full = request.since is None or request.full_state or newly_joined
                plans.append(_RoomPlan(room_id, "join", 0 if newly_joined else since_pos, now_pos, full))
            elif member.membership in ("invite", "knock") and (changed or request.since is None):
                pending.append(member)
            elif member.membership in ("leave", "ban") and room_id not in forgotten:
                if changed or (fc.include_leave and (request.since is None or request.full_state)):
                    full = request.since is None or request.full_state or at_since.get(room_id) != "join"
                    from_pos = 0 if full else since_pos
                    plans.append(_RoomPlan(room_id, "leave", from_pos, member.stream_ordering, full))

        for room_id, section in (await self._stripped_sections(pending)).items():
            target = result.invite if "invite_state" in section else result.knock
            target[room_id] = section
        await self._fill_rooms(request, plans, result, since_pos, now_pos)
        joined = [room_id for room_id, m in memberships.items() if m.membership == "join" and room_id in allowed_rooms]
        contexts: list[tuple[Any, SyncContext]] = []
        for name, stream in self._hs.user_streams.items():
            since_stream_pos = request.since.get(name) if request.since is not None else 0
            ctx = SyncContext(
                user_id=user_id,
                device_id=request.requester.device_id,
                from_pos=0 if request.full_state else since_stream_pos,
                to_pos=now.get(name),
                joined_room_ids=joined,
                filter=fc,
                since_pos=since_stream_pos,
                events_from_pos=since_pos,
                events_to_pos=now_pos,
                full=request.since is None or request.full_state,
            )
            contexts.append((stream, ctx))
            contribution = await stream.sync(ctx)
            if contribution.position is not None:
                result.next_batch = result.next_batch.copy_and_replace(name, contribution.position)
            result.add_stream_contribution(contribution)
        # fields of rooms already in the answer (e.g. unread counts)
        for stream, ctx in contexts:
            for room_id, fields in (await stream.joined_room_fields(ctx, list(result.join))).items():
                result.join[room_id].update(fields)
        result.device_sections = await self._e2ee_sections(request, now)
        return result

    async def _e2ee_sections(self, request: SyncRequest, now: StreamToken) -> JsonDict:
        """One-time key counts and unused fallback key types of the syncing
        device, and (incrementally) whose device lists changed or who left."""
        requester = request.requester
        sections: JsonDict = {}
        if requester.device_id is not None:
            counts, fallback_types = await self._hs.stores.e2e_keys.get_sync_key_summary(
                requester.user_id, requester.device_id
            )
            sections["device_one_time_keys_count"] = counts
            sections["device_unused_fallback_key_types"] = fallback_types
        if request.since is not None and not request.full_state:
            sections["device_lists"] = await device_lists_stream(self._hs).changes_between(
                requester.user_id, request.since, now
            )
        return sections

    async def _memberships_at(self, user_id: str, now_pos: int) -> dict[str, MembershipChange]:
        """The user's membership in every room as of `now_pos` (current state,
        corrected from history for rooms that changed after `now_pos`)."""
        stores = self._hs.stores
        rows = await stores.members.get_rooms_for_user(user_id, ("join", "invite", "knock", "leave", "ban"))
        result = {
            r.room_id: MembershipChange(r.room_id, r.membership, r.event_id, r.stream_ordering, r.sender)
            for r in rows
            if r.stream_ordering <= now_pos
        }
        late = [r.room_id for r in rows if r.stream_ordering > now_pos]
        if late:
            history = await stores.stream.get_membership_history(user_id, late, to_pos=now_pos)
            for room_id, changes in history.items():
                if changes:
                    result[room_id] = changes[-1]
        return result

    async def _stripped_sections(self, members: list[MembershipChange]) -> dict[str, JsonDict]:
        """invite_state / knock_state per room: stripped room state plus the member event itself."""
        if not members:
            return {}
        stores = self._hs.stores
        events = await stores.events.get_events([m.event_id for m in members])
        state = await stores.stream.get_current_state_ids_of_types([m.room_id for m in members], STRIPPED_STATE_TYPES)
        state_events = await stores.events.get_events([eid for ids in state.values() for eid in ids.values()])
        sections: dict[str, JsonDict] = {}
        for member in members:
            event = events.get(member.event_id)
            if event is None:
                continue
            key = "invite_state" if member.membership == "invite" else "knock_state"
            carried = event.unsigned.get("invite_room_state" if member.membership == "invite" else "knock_room_state")
            if isinstance(carried, list):
                stripped = list(carried)
            else:
                ids = state.get(member.room_id, {})
                stripped = [
                    strip_event(state_events[ids[(t, "")]])
                    for t in STRIPPED_STATE_TYPES
                    if (t, "") in ids and ids[(t, "")] in state_events
                ]
            sections[member.room_id] = {key: {"events": [*stripped, strip_event(event)]}}
        return sections

    async def _fill_rooms(
        self, request: SyncRequest, plans: list[_RoomPlan], result: SyncResult, since_pos: int, now_pos: int
    ) -> None:
        if not plans:
            return
        stores = self._hs.stores
        fc = request.filter
        user_id = request.requester.user_id
        lazy = fc.lazy_load_members
        timelines: dict[str, RoomTimeline] = {}
        if not fc.timeline_filter.blocks_all():
            ranges = {p.room_id: (p.from_pos, p.to_pos) for p in plans if fc.timeline_filter.room_allowed(p.room_id)}
            timelines = await stores.stream.get_recent_events_for_room_ranges(
                ranges, fc.timeline_limit, fc.timeline_filter
            )

        # Which rooms need the state at their timeline start: full-state rooms,
        # limited timelines (a gap since the last sync), and with lazy loading
        # every timeline (for its senders' member events).
        def wants_start_state(p: _RoomPlan) -> bool:
            t = timelines.get(p.room_id)
            return p.full_state or (t is not None and (t.limited or lazy))

        needs = [p for p in plans if wants_start_state(p)]
        no_timeline = [p.room_id for p in needs if p.room_id not in timelines]
        last_at_end = await stores.stream.get_last_event_in_rooms(no_timeline, now_pos) if no_timeline else {}
        deltas = [p.room_id for p in needs if not p.full_state]
        at_since_events = await stores.stream.get_last_event_in_rooms(deltas, since_pos) if deltas else {}
        before_ids = [timelines[p.room_id].events[0].event_id for p in needs if p.room_id in timelines]
        after_ids = [e.event_id for e in (*last_at_end.values(), *at_since_events.values())]
        state_before = await stores.state.get_state_ids_for_events(before_ids, before=True) if before_ids else {}
        state_after = await stores.state.get_state_ids_for_events(after_ids) if after_ids else {}

        state_maps: dict[str, StateMap] = {}
        for p in needs:
            t = timelines.get(p.room_id)
            if t is not None:
                start_state = state_before.get(t.events[0].event_id, {})
            else:
                last = last_at_end.get(p.room_id)
                start_state = state_after.get(last.event_id, {}) if last else {}
            if p.full_state:
                chosen = dict(start_state)
            else:
                since_event = at_since_events.get(p.room_id)
                at_since = state_after.get(since_event.event_id, {}) if since_event else {}
                chosen = {k: v for k, v in start_state.items() if at_since.get(k) != v} if t and t.limited else {}
            if lazy and t is not None:
                for sender in {e.sender for e in t.events}:
                    key = ("m.room.member", sender)
                    if key in start_state:
                        chosen[key] = start_state[key]
            state_maps[p.room_id] = chosen

        state_events = await stores.events.get_events([eid for m in state_maps.values() for eid in m.values()])
        all_timeline = [e for t in timelines.values() for e in t.events]
        visible = await self._hs.visibility.filter_events_for_client(user_id, all_timeline)
        visible_ids = {e.event_id for e in visible}
        bundled = await self._hs.relations_handler.get_bundled_aggregations(visible, user_id)
        contents: dict[str, tuple[list, list]] = {}
        for p in plans:
            timeline = timelines.get(p.room_id)
            events = [e for e in (timeline.events if timeline else []) if e.event_id in visible_ids]
            state = [state_events[eid] for eid in state_maps.get(p.room_id, {}).values() if eid in state_events]
            state = fc.state_filter.filter(state)
            if lazy:
                senders = {e.sender for e in events} | {user_id}
                state = [s for s in state if s.type != "m.room.member" or s.state_key in senders]
            if events or state or p.full_state:
                state.sort(key=lambda e: (e.type, e.state_key or ""))
                contents[p.room_id] = (events, state)
        join_ids = [p.room_id for p in plans if p.section == "join" and p.room_id in contents]
        summaries = await stores.stream.get_room_summaries(join_ids, user_id) if join_ids else {}

        now_ms = self._hs.clock.time_msec()
        fmt: dict[str, Any] = {
            "include_room_id": False,
            "requester_user_id": user_id,
            "requester_device_id": request.requester.device_id,
        }
        for p in plans:
            if p.room_id not in contents:
                continue
            events, state = contents[p.room_id]
            timeline = timelines.get(p.room_id)
            prev_token = token_before(timeline.events[0]) if timeline else RoomStreamToken(None, p.to_pos)
            timeline_events = fc.format_events(events, now_ms, **fmt)
            apply_bundled_aggregations(timeline_events, bundled)
            room: JsonDict = {
                "timeline": {
                    "events": timeline_events,
                    "limited": bool(timeline and timeline.limited),
                    "prev_batch": prev_token.to_string(),
                },
                "state": {"events": fc.format_events(state, now_ms, **fmt)},
                "account_data": {"events": []},
            }
            if p.section == "join":
                summary = summaries.get(p.room_id)
                room["ephemeral"] = {"events": []}
                if summary is not None:
                    room["summary"] = {
                        "m.heroes": summary.heroes,
                        "m.joined_member_count": summary.joined_member_count,
                        "m.invited_member_count": summary.invited_member_count,
                    }
                result.join[p.room_id] = room
            else:
                result.leave[p.room_id] = room
