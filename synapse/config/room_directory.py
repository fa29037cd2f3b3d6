"""The `roomdirectory` section: who may create aliases and publish rooms.

Rules are checked in order and the first match decides. With no
`room_list_publication_rules`, nothing may be published (Synapse's default
since 1.126; server admins bypass the rules in the handler, per Synapse's
documentation). With no `alias_creation_rules`, anyone may create aliases.
"""

import re
from typing import Collection, Optional

import attrs

from synapse.config._base import Node, ParseContext

KEYS = frozenset({"enable_room_list_search", "alias_creation_rules", "room_list_publication_rules"})


def glob_to_regex(glob: str) -> "re.Pattern[str]":
    """Compile a glob (`*` any run, `?` one character) to an anchored,
    case-insensitive pattern."""
    parts = []
    for ch in glob:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile(r"\A" + "".join(parts) + r"\Z", re.IGNORECASE | re.DOTALL)


@attrs.frozen
class DirectoryRule:
    action: str  # "allow" or "deny"
    user_id: str = "*"
    room_id: str = "*"
    alias: str = "*"
    _user_re: "re.Pattern[str]" = attrs.field(init=False, eq=False, repr=False)
    _room_re: "re.Pattern[str]" = attrs.field(init=False, eq=False, repr=False)
    _alias_re: "re.Pattern[str]" = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_user_re", glob_to_regex(self.user_id))
        object.__setattr__(self, "_room_re", glob_to_regex(self.room_id))
        object.__setattr__(self, "_alias_re", glob_to_regex(self.alias))

    def matches(self, user_id: str, room_id: str, aliases: Collection[str]) -> bool:
        """True if the user and room match and, unless the alias glob is `*`,
        at least one of the aliases does (so a room without aliases only
        matches rules whose alias is `*`)."""
        if not self._user_re.match(user_id) or not self._room_re.match(room_id):
            return False
        if self.alias == "*":
            return True
        return any(self._alias_re.match(a) for a in aliases)


def _parse_rules(node: Node, default: Optional[list[DirectoryRule]]) -> list[DirectoryRule]:
    if not node.present:
        return list(default or [])
    rules = []
    for rule in node.elements():
        rule.mapping()
        rules.append(
            DirectoryRule(
                action=rule["action"].required().choice(("allow", "deny")),
                user_id=rule["user_id"].as_str("*"),
                room_id=rule["room_id"].as_str("*"),
                alias=rule["alias"].as_str("*"),
            )
        )
    return rules


def _first_match_allows(rules: list[DirectoryRule], user_id: str, room_id: str, aliases: Collection[str]) -> bool:
    for rule in rules:
        if rule.matches(user_id, room_id, aliases):
            return rule.action == "allow"
    return False


@attrs.frozen
class RoomDirectoryConfig:
    enable_room_list_search: bool
    alias_creation_rules: list[DirectoryRule]
    room_list_publication_rules: list[DirectoryRule]

    @classmethod
    def parse(cls, ctx: ParseContext) -> "RoomDirectoryConfig":
        root = ctx.root
        return cls(
            enable_room_list_search=root["enable_room_list_search"].as_bool(True),
            alias_creation_rules=_parse_rules(root["alias_creation_rules"], [DirectoryRule(action="allow")]),
            room_list_publication_rules=_parse_rules(root["room_list_publication_rules"], []),
        )

    def is_alias_creation_allowed(self, user_id: str, room_id: str, alias: str) -> bool:
        return _first_match_allows(self.alias_creation_rules, user_id, room_id, [alias])

    def is_publishing_room_allowed(self, user_id: str, room_id: str, aliases: Collection[str]) -> bool:
        """May `user_id` publish `room_id` (with these local aliases) to the room list?"""
        return _first_match_allows(self.room_list_publication_rules, user_id, room_id, aliases)
