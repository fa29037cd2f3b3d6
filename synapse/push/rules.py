"""Push rules: the spec's server-default rules, a user's stored changes, and
the merged ruleset clients see (GET /pushrules/, `m.push_rules`).

A user's stored document (`push_rules.rules`, see schema 97) is
`{"rules": {kind: [rule, ...]}, "defaults": {rule_id: {"enabled"?, "actions"?}}}`:
user rules per kind in priority order (most important first) and changes
to server-default rules. The merged order follows the spec: `.m.rule.master`
first, then per kind the user's rules before the server-default ones.
Default rules name the rule's owner with the spec's placeholder
`USER_ID_PLACEHOLDER`, substituted when shown and when evaluated.
"""

import copy
from typing import Any, Optional

import attrs

from synapse.api.errors import Codes, SynapseError

JsonDict = dict[str, Any]

KINDS = ("override", "content", "room", "sender", "underride")
USER_ID_PLACEHOLDER = "[the user's Matrix ID]"
MASTER = ".m.rule.master"
# actions the spec retired: ignored (stripped) wherever they appear
HISTORICAL_ACTIONS = ("dont_notify", "coalesce")

_SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
_HIGHLIGHT = {"set_tweak": "highlight"}


def _match(key: str, pattern: str) -> JsonDict:
    return {"kind": "event_match", "key": key, "pattern": pattern}


def _rule(rule_id: str, conditions: list[JsonDict], actions: list[Any], enabled: bool = True) -> JsonDict:
    return {"rule_id": rule_id, "default": True, "enabled": enabled, "conditions": conditions, "actions": actions}


# Matrix spec v1.17, "Predefined Rules" (the body-matching legacy rules were removed there).
DEFAULT_OVERRIDE: list[JsonDict] = [
    _rule(MASTER, [], [], enabled=False),
    _rule(".m.rule.suppress_notices", [_match("content.msgtype", "m.notice")], []),
    _rule(
        ".m.rule.invite_for_me",
        [
            _match("type", "m.room.member"),
            _match("content.membership", "invite"),
            _match("state_key", USER_ID_PLACEHOLDER),
        ],
        ["notify", _SOUND_DEFAULT],
    ),
    _rule(".m.rule.member_event", [_match("type", "m.room.member")], []),
    _rule(
        ".m.rule.is_user_mention",
        [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": USER_ID_PLACEHOLDER}],
        ["notify", _SOUND_DEFAULT, _HIGHLIGHT],
    ),
    _rule(
        ".m.rule.is_room_mention",
        [
            {"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": True},
            {"kind": "sender_notification_permission", "key": "room"},
        ],
        ["notify", _HIGHLIGHT],
    ),
    _rule(".m.rule.tombstone", [_match("type", "m.room.tombstone"), _match("state_key", "")], ["notify", _HIGHLIGHT]),
    _rule(".m.rule.reaction", [_match("type", "m.reaction")], []),
    _rule(".m.rule.room.server_acl", [_match("type", "m.room.server_acl"), _match("state_key", "")], []),
    _rule(
        ".m.rule.suppress_edits",
        [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}],
        [],
    ),
]
DEFAULT_UNDERRIDE: list[JsonDict] = [
    _rule(".m.rule.call", [_match("type", "m.call.invite")], ["notify", {"set_tweak": "sound", "value": "ring"}]),
    _rule(
        ".m.rule.encrypted_room_one_to_one",
        [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.encrypted")],
        ["notify", _SOUND_DEFAULT],
    ),
    _rule(
        ".m.rule.room_one_to_one",
        [{"kind": "room_member_count", "is": "2"}, _match("type", "m.room.message")],
        ["notify", _SOUND_DEFAULT],
    ),
    _rule(".m.rule.message", [_match("type", "m.room.message")], ["notify"]),
    _rule(".m.rule.encrypted", [_match("type", "m.room.encrypted")], ["notify"]),
]
DEFAULT_RULES: dict[str, list[JsonDict]] = {"override": DEFAULT_OVERRIDE, "underride": DEFAULT_UNDERRIDE}
DEFAULT_KIND_OF: dict[str, str] = {r["rule_id"]: kind for kind, rules in DEFAULT_RULES.items() for r in rules}


@attrs.frozen
class PushRule:
    """One rule of a merged ruleset; conditions are explicit for every kind
    (room, sender and content rules get their implied condition)."""

    kind: str
    rule_id: str
    conditions: list[JsonDict]
    actions: list[Any]
    enabled: bool
    default: bool
    pattern: Optional[str] = None

    def to_json(self, user_id: str) -> JsonDict:
        """The client form (spec `PushRule`), with the owner's id substituted."""
        rule: JsonDict = {
            "rule_id": self.rule_id,
            "default": self.default,
            "enabled": self.enabled,
            "actions": self.actions,
        }
        if self.kind in ("override", "underride"):
            rule["conditions"] = _substitute(self.conditions, user_id)
        if self.kind == "content":
            rule["pattern"] = self.pattern
        return rule


def _substitute(conditions: list[JsonDict], user_id: str) -> list[JsonDict]:
    return [{k: (user_id if v == USER_ID_PLACEHOLDER else v) for k, v in c.items()} for c in conditions]


def implied_conditions(kind: str, rule_id: str, stored: JsonDict) -> list[JsonDict]:
    """The conditions of a stored user rule, made explicit for its kind."""
    if kind == "room":
        return [_match("room_id", rule_id)]
    if kind == "sender":
        return [_match("sender", rule_id)]
    if kind == "content":
        return [_match("content.body", stored.get("pattern", ""))]
    return list(stored.get("conditions") or [])


def merged_rules(document: Optional[JsonDict]) -> list[PushRule]:
    """Every rule of a user in evaluation order (disabled ones included)."""
    document = document or {}
    user_rules = document.get("rules", {})
    changes = document.get("defaults", {})

    def default(kind: str, raw: JsonDict) -> PushRule:
        change = changes.get(raw["rule_id"], {})
        return PushRule(
            kind,
            raw["rule_id"],
            raw["conditions"],
            change.get("actions", raw["actions"]),
            change.get("enabled", raw["enabled"]),
            True,
        )

    result: list[PushRule] = []
    for kind in KINDS:
        defaults = [default(kind, raw) for raw in DEFAULT_RULES.get(kind, [])]
        if kind == "override":
            result.append(defaults.pop(0))  # master precedes even user rules
        for stored in user_rules.get(kind, []):
            result.append(
                PushRule(
                    kind,
                    stored["rule_id"],
                    implied_conditions(kind, stored["rule_id"], stored),
                    stored["actions"],
                    stored.get("enabled", True),
                    False,
                    stored.get("pattern"),
                )
            )
        result += defaults
    return result


def ruleset_json(document: Optional[JsonDict], user_id: str) -> JsonDict:
    """The `global` ruleset as clients see it: kind -> list of rules."""
    ruleset: JsonDict = {kind: [] for kind in KINDS}
    for rule in merged_rules(document):
        ruleset[rule.kind].append(rule.to_json(user_id))
    return ruleset


def find_rule(document: Optional[JsonDict], kind: str, rule_id: str) -> Optional[PushRule]:
    for rule in merged_rules(document):
        if rule.kind == kind and rule.rule_id == rule_id:
            return rule
    return None


# -- validation of client input ---------------------------------------------------
def check_kind(scope: str, kind: str) -> None:
    if scope != "global":
        raise SynapseError(400, "Only the 'global' scope is supported", Codes.INVALID_PARAM)
    if kind not in KINDS:
        raise SynapseError(400, f"Unknown push rule kind {kind!r}", Codes.INVALID_PARAM)


def clean_actions(actions: Any) -> list[Any]:
    """Validated actions with historical ones stripped; 400 otherwise."""
    if not isinstance(actions, list):
        raise SynapseError(400, "'actions' must be a list", Codes.INVALID_PARAM)
    cleaned: list[Any] = []
    for action in actions:
        if action in HISTORICAL_ACTIONS:
            continue
        if action == "notify":
            cleaned.append(action)
        elif isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            cleaned.append(action)
        else:
            raise SynapseError(400, f"Unrecognised action {action!r}", Codes.INVALID_PARAM)
    return cleaned


def new_user_rule(kind: str, rule_id: str, body: JsonDict) -> JsonDict:
    """The stored form of a rule a client PUTs; 400 for invalid input."""
    if rule_id.startswith("."):
        raise SynapseError(400, "Rule ids starting with '.' are reserved for server-default rules", Codes.INVALID_PARAM)
    if not rule_id or "/" in rule_id or "\\" in rule_id:
        raise SynapseError(400, "Rule ids may not be empty or contain slashes", Codes.INVALID_PARAM)
    rule: JsonDict = {"rule_id": rule_id, "actions": clean_actions(body.get("actions"))}
    if kind == "content":
        pattern = body.get("pattern")
        if not isinstance(pattern, str):
            raise SynapseError(400, "Content rules need a string 'pattern'", Codes.MISSING_PARAM)
        rule["pattern"] = pattern
    elif kind in ("override", "underride"):
        conditions = body.get("conditions", [])
        if not isinstance(conditions, list) or not all(
            isinstance(c, dict) and isinstance(c.get("kind"), str) for c in conditions
        ):
            raise SynapseError(400, "'conditions' must be a list of objects with a 'kind'", Codes.INVALID_PARAM)
        rule["conditions"] = conditions
    return rule


# -- edits of a stored document (run on the push_rules writer) ---------------------
def _user_rules_of(document: JsonDict, kind: str) -> list[JsonDict]:
    return document.setdefault("rules", {}).setdefault(kind, [])


def with_rule_put(
    document: Optional[JsonDict], kind: str, rule: JsonDict, before: Optional[str], after: Optional[str]
) -> JsonDict:
    """A copy of `document` with `rule` added or replaced (keeping its enabled
    state), placed relative to `before`/`after` when given, else kept where it
    was or made the most important of its kind."""
    document = copy.deepcopy(document or {})
    rules = _user_rules_of(document, kind)
    for anchor in (before, after):
        if anchor is not None and anchor.startswith("."):
            raise SynapseError(400, "Rules cannot be placed relative to server-default rules", Codes.INVALID_PARAM)
        if anchor is not None and anchor != rule["rule_id"] and not any(r["rule_id"] == anchor for r in rules):
            raise SynapseError(400, f"No {kind} rule {anchor!r} to place this rule by", Codes.INVALID_PARAM)
    index = next((i for i, r in enumerate(rules) if r["rule_id"] == rule["rule_id"]), None)
    if index is not None:
        rule = {**rule, "enabled": rules[index].get("enabled", True)}
        del rules[index]
    if before is not None:
        position = next(i for i, r in enumerate(rules) if r["rule_id"] == before)
    elif after is not None:
        position = next(i for i, r in enumerate(rules) if r["rule_id"] == after) + 1
    else:
        position = index if index is not None else 0
    rules.insert(position, {**rule, "enabled": rule.get("enabled", True)})
    return document


def with_rule_deleted(document: Optional[JsonDict], kind: str, rule_id: str) -> JsonDict:
    if rule_id.startswith("."):
        raise SynapseError(400, "Server-default rules cannot be deleted", Codes.INVALID_PARAM)
    document = copy.deepcopy(document or {})
    rules = _user_rules_of(document, kind)
    remaining = [r for r in rules if r["rule_id"] != rule_id]
    if len(remaining) == len(rules):
        raise SynapseError(404, "Push rule not found", Codes.NOT_FOUND)
    document["rules"][kind] = remaining
    return document


def with_attribute(document: Optional[JsonDict], kind: str, rule_id: str, attribute: str, value: Any) -> JsonDict:
    """A copy with a rule's `enabled` or `actions` set; 404 for a missing rule."""
    document = copy.deepcopy(document or {})
    if DEFAULT_KIND_OF.get(rule_id) == kind:
        document.setdefault("defaults", {}).setdefault(rule_id, {})[attribute] = value
        return document
    for rule in _user_rules_of(document, kind):
        if rule["rule_id"] == rule_id:
            rule[attribute] = value
            return document
    raise SynapseError(404, "Push rule not found", Codes.NOT_FOUND)
