"""EventContext: the room state around an event that is about to be persisted.

The message handler computes the state *before* a new event (the state
after its prev events, resolved when they disagree) and hands it to the
event persister with the event. The persister turns it into state groups
inside the same transaction as the event itself, so a context never refers
to a state group that was not written.
"""

from typing import Any, Optional

import attrs

from synapse.events.model import FrozenEvent
from synapse.state import StateMap


@attrs.define
class EventContext:
    """The state before an event, and where it is (or will be) stored.

    `state_group_before` is an existing state group holding exactly
    `state_ids_before` (the usual case: the event follows one prev event).
    When it is None the persister writes a new group for the state before,
    as a delta on `prev_group_hint` when one is given (a resolved fork starts
    from one side's group) or as a full snapshot otherwise (the create event).
    """

    state_ids_before: StateMap
    state_group_before: Optional[int] = None
    prev_group_hint: Optional[int] = None
    # set by the persister once the groups are written
    state_group_after: Optional[int] = None
    # push rule results of local members (user -> actions that notify or
    # highlight) and the event's thread, computed where the event was
    # created (synapse/push/bulk.py) and stored in its persist transaction
    push_actions: dict[str, list[Any]] = attrs.field(factory=dict)
    thread_id: str = "main"

    def state_ids_after(self, event: FrozenEvent) -> StateMap:
        """The state after `event`: the state before, plus the event if it is state."""
        if not event.is_state():
            return self.state_ids_before
        after = dict(self.state_ids_before)
        after[(event.type, event.state_key)] = event.event_id  # type: ignore[index]
        return after

    def replaced_state_id(self, event: FrozenEvent) -> Optional[str]:
        """The state event this (state) event replaces, if any."""
        if not event.is_state():
            return None
        return self.state_ids_before.get((event.type, event.state_key))  # type: ignore[arg-type]
