"""The `user_directory` section: whether user search runs and whom it finds."""

import attrs

from synapse.config._base import ParseContext

KEYS = frozenset({"user_directory"})


@attrs.frozen
class UserDirectoryConfig:
    enabled: bool
    # False: only users who share a room with the searcher or are in public rooms
    search_all_users: bool
    prefer_local_users: bool

    @classmethod
    def parse(cls, ctx: ParseContext) -> "UserDirectoryConfig":
        node = ctx.root["user_directory"]
        node.mapping()
        return cls(
            enabled=node["enabled"].as_bool(True),
            search_all_users=node["search_all_users"].as_bool(False),
            prefer_local_users=node["prefer_local_users"].as_bool(False),
        )
