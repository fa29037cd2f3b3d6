"""The `presence` section (and Synapse's legacy top-level `use_presence`)."""

import attrs

from synapse.config._base import ParseContext

KEYS = frozenset({"presence", "use_presence"})


@attrs.frozen
class PresenceConfig:
    enabled: bool
    # False for `enabled: untracked`: presence is served and federated but
    # local users' activity does not change it
    track_presence: bool

    @classmethod
    def parse(cls, ctx: ParseContext) -> "PresenceConfig":
        root = ctx.root
        node = root["presence"]
        node.mapping()
        enabled_node = node["enabled"]
        if enabled_node.present:
            if isinstance(enabled_node.value, str) and enabled_node.value.strip().lower() == "untracked":
                return cls(enabled=True, track_presence=False)
            enabled = enabled_node.as_bool(True)
        else:
            enabled = root["use_presence"].as_bool(True)
        return cls(enabled=enabled, track_presence=enabled)
