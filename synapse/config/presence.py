"""The `presence` section (and Synapse's legacy top-level `use_presence`).

Presence timeouts are Synapse's constants, not homeserver.yaml options.
Tests shorten them through `presence._timeouts` (a mapping of
`PresenceTimeouts` field names to milliseconds); it is not meant for
operators and Synapse ignores it.
"""

import attrs

from synapse.config._base import ParseContext

KEYS = frozenset({"presence", "use_presence"})


@attrs.frozen
class PresenceTimeouts:
    """How presence follows activity and syncing, in milliseconds."""

    # online -> unavailable after this long without activity
    idle_ms: int = 5 * 60_000
    # -> offline once no process has served the user's /sync for this long
    sync_online_ms: int = 30_000
    # currently_active while the last activity is at most this old
    active_ms: int = 60_000
    # a process reports "stopped syncing" this long after a user's last
    # /sync ended (long-polls follow one another without a report each)
    sync_stop_grace_ms: int = 10_000
    # a process re-sends its syncing users this often; the writer forgets a
    # process that stays silent for three intervals (it crashed)
    refresh_ms: int = 60_000
    # how often the writer applies the timeouts
    check_ms: int = 5_000
    # a process forwards a user's activity to the writer at most this often
    activity_report_ms: int = 10_000


@attrs.frozen
class PresenceConfig:
    enabled: bool
    # False for `enabled: untracked`: presence is served and federated but
    # local users' activity does not change it
    track_presence: bool
    timeouts: PresenceTimeouts = PresenceTimeouts()

    @classmethod
    def parse(cls, ctx: ParseContext) -> "PresenceConfig":
        root = ctx.root
        node = root["presence"]
        node.mapping()
        timeouts_node = node["_timeouts"]
        overrides = {
            name: timeouts_node[name].as_int(minimum=1)
            for name in timeouts_node.keys()
            if name in attrs.fields_dict(PresenceTimeouts)
        }
        timeouts = PresenceTimeouts(**overrides)
        enabled_node = node["enabled"]
        if enabled_node.present:
            if isinstance(enabled_node.value, str) and enabled_node.value.strip().lower() == "untracked":
                return cls(enabled=True, track_presence=False, timeouts=timeouts)
            enabled = enabled_node.as_bool(True)
        else:
            enabled = root["use_presence"].as_bool(True)
        return cls(enabled=enabled, track_presence=enabled, timeouts=timeouts)
