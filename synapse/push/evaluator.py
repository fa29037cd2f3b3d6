"""Push rule evaluation: compiled rules run against one event for many users.

Rules are compiled once per user (and the server-default ruleset once for
every user without changes): globs become regexes (compiled once per
pattern), dotted keys become tuples of path segments. `EventFacts` holds
what one event offers every user (its JSON, member count, the sender's
power level). Per event, each distinct ruleset is reduced once to the
rules that may still match and their per-user conditions (`plan`), so
evaluating a large room costs a few dict lookups per member.
"""

import functools
import re
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional

import attrs

from synapse.api.filtering import split_field_path
from synapse.push.rules import DEFAULT_KIND_OF, DEFAULT_RULES, USER_ID_PLACEHOLDER, PushRule, merged_rules

JsonDict = dict[str, Any]
_MISSING = object()
_WORD = "A-Za-z0-9_"
_MEMBER_COUNT = re.compile(r"^(==|<=|>=|<|>)?([0-9]+)$")
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


# -- building blocks ---------------------------------------------------------------
def lookup(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for segment in path:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(segment, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: str, word_boundary: bool) -> "re.Pattern[str]":
    """A glob (`*`, `?`, `[...]`) as a case-insensitive regex: matching the
    whole value, or with `word_boundary` any substring bounded by non-word
    characters (the spec's rule for `content.body`)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.sub(r"([\\\]^])", r"\\\1", body[1:] if negate else body)
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    regex = "".join(out)
    if word_boundary:
        return re.compile(f"(?<![{_WORD}])(?:{regex})(?![{_WORD}])", re.IGNORECASE | re.DOTALL)
    return re.compile(f"(?:{regex})\\Z", re.IGNORECASE | re.DOTALL)


def _exact_equal(a: Any, b: Any) -> bool:
    """Canonical-JSON equality: no casts between booleans and integers."""
    return type(a) is type(b) and a == b and (a is None or isinstance(a, (str, int, bool)))


def notifies(actions: Iterable[Any]) -> tuple[bool, bool]:
    """(notify, highlight) of an action list."""
    notify = highlight = False
    for action in actions:
        if action == "notify":
            notify = True
        elif isinstance(action, dict) and action.get("set_tweak") == "highlight":
            highlight = action.get("value", True) is True
    return notify, highlight


# -- per event and per user facts -------------------------------------------------
@attrs.define
class EventFacts:
    """What one event offers every recipient's rules."""

    event: JsonDict
    member_count: int
    sender_power_level: int
    notification_levels: Mapping[str, Any]
    # id(ruleset) -> the ruleset reduced for this event (CompiledRuleset.plan)
    plans: dict[int, Any] = attrs.field(factory=dict)
    # id(condition) -> result, for conditions that do not depend on the user
    # (default rules' conditions are shared by every ruleset)
    memo: dict[int, bool] = attrs.field(factory=dict)
    # property path -> value, for conditions evaluated per user
    _values: dict[tuple[str, ...], Any] = attrs.field(factory=dict)

    def value(self, path: tuple[str, ...]) -> Any:
        """The event's property at `path` (_MISSING when absent), looked up once."""
        try:
            return self._values[path]
        except KeyError:
            value = self._values[path] = lookup(self.event, path)
            return value

    def holds(self, condition: "Condition") -> bool:
        """A user-independent condition's result, computed once per event."""
        result = self.memo.get(id(condition))
        if result is None:
            result = self.memo[id(condition)] = condition.matches(self, _NOBODY)
        return result

    def body(self) -> Optional[str]:
        body = lookup(self.event, ("content", "body"))
        return body if isinstance(body, str) else None


class Recipient(NamedTuple):
    """Whose rules are evaluated (a tuple: built once per member per event)."""

    user_id: str
    display_name: Optional[str] = None


_NOBODY = Recipient("")


# -- conditions ------------------------------------------------------------------
class Condition:
    """A compiled condition; `per_user` ones are evaluated for every user."""

    per_user = False

    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        raise NotImplementedError


class Never(Condition):
    """Unrecognised or malformed conditions never match (the spec's rule)."""

    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        return False


class EventMatch(Condition):
    def __init__(self, key: str, pattern: str) -> None:
        self.path = tuple(split_field_path(key))
        self.per_user = pattern == USER_ID_PLACEHOLDER
        self.regex = None if self.per_user else compile_glob(pattern, key == "content.body")

    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        value = facts.value(self.path)
        if not isinstance(value, str):
            return False
        regex = self.regex or compile_glob(user.user_id, self.path == ("content", "body"))
        return (regex.search if self.path == ("content", "body") else regex.match)(value) is not None


class _PropertyCondition(Condition):
    """Exact matches of a property against a value (the owner's id for the
    default rules' placeholder)."""

    def __init__(self, key: str, value: Any) -> None:
        self.path, self.value = tuple(split_field_path(key)), value
        self.per_user = value == USER_ID_PLACEHOLDER

    def _expected(self, user: Recipient) -> Any:
        return user.user_id if self.per_user else self.value


class PropertyIs(_PropertyCondition):
    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        value = facts.value(self.path)
        return value is not _MISSING and _exact_equal(value, self._expected(user))


class PropertyContains(_PropertyCondition):
    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        values = facts.value(self.path)
        if not isinstance(values, list):
            return False
        expected = user.user_id if self.per_user else self.value
        # `in` first: cheap, and almost always False for a mention of someone else
        return expected in values and any(_exact_equal(v, expected) for v in values)


class ContainsDisplayName(Condition):
    per_user = True

    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        body = facts.body()
        if not body or not user.display_name:
            return False
        name = re.escape(user.display_name)
        return re.search(f"(?<![{_WORD}]){name}(?![{_WORD}])", body, re.IGNORECASE) is not None


class MemberCount(Condition):
    def __init__(self, spec: str) -> None:
        m = _MEMBER_COUNT.match(spec.strip())
        assert m is not None
        self.compare, self.number = _COMPARE[m.group(1) or "=="], int(m.group(2))

    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        return self.compare(facts.member_count, self.number)


class SenderPermission(Condition):
    def __init__(self, key: str) -> None:
        self.key = key

    def matches(self, facts: EventFacts, user: Recipient) -> bool:
        required = facts.notification_levels.get(self.key, 50)
        if isinstance(required, str) and required.lstrip("-").isdigit():
            required = int(required)
        if not isinstance(required, int) or isinstance(required, bool):
            required = 50
        return facts.sender_power_level >= required


def compile_condition(raw: JsonDict) -> Condition:
    kind = raw.get("kind")
    key, pattern, value = raw.get("key"), raw.get("pattern"), raw.get("value", _MISSING)
    if kind == "event_match" and isinstance(key, str) and isinstance(pattern, str):
        return EventMatch(key, pattern)
    if kind == "event_property_is" and isinstance(key, str) and value is not _MISSING:
        return PropertyIs(key, value)
    if kind == "event_property_contains" and isinstance(key, str) and value is not _MISSING:
        return PropertyContains(key, value)
    if kind == "contains_display_name":
        return ContainsDisplayName()
    if kind == "room_member_count" and isinstance(raw.get("is"), str) and _MEMBER_COUNT.match(raw["is"].strip()):
        return MemberCount(raw["is"])
    if kind == "sender_notification_permission" and isinstance(key, str):
        return SenderPermission(key)
    return Never()


# -- rules and rulesets ---------------------------------------------------------------
@attrs.frozen
class CompiledRule:
    rule_id: str
    conditions: tuple[Condition, ...]
    actions: list[Any]
    # whether matching it notifies or highlights (stored as a push action)
    counts: bool = False


@functools.lru_cache(maxsize=256)
def _compile_default(rule_id: str) -> tuple[Condition, ...]:
    """Default rules' conditions, compiled once for every user's ruleset."""
    raw = next(r for r in DEFAULT_RULES[DEFAULT_KIND_OF[rule_id]] if r["rule_id"] == rule_id)
    return tuple(compile_condition(c) for c in raw["conditions"])


def _compile_rule(rule: PushRule) -> CompiledRule:
    if rule.default:
        conditions = _compile_default(rule.rule_id)
    else:
        conditions = tuple(compile_condition(c) for c in rule.conditions)
    return CompiledRule(rule.rule_id, conditions, rule.actions, any(notifies(rule.actions)))


@attrs.frozen
class _Plan:
    """A ruleset reduced for one event: the rules that may still match,
    each with only its per-user conditions left, then the rule every
    remaining user gets (None: no rule matches)."""

    candidates: tuple[tuple[tuple[Condition, ...], CompiledRule], ...]
    fallback: Optional[CompiledRule]

    def first_match(self, facts: EventFacts, user: Recipient) -> Optional[CompiledRule]:
        for conditions, rule in self.candidates:
            for condition in conditions:
                if not condition.matches(facts, user):
                    break
            else:
                return rule
        return self.fallback


@attrs.frozen(eq=False)
class CompiledRuleset:
    """A user's enabled rules in evaluation order."""

    rules: tuple[CompiledRule, ...]

    @classmethod
    def from_document(cls, document: Optional[JsonDict]) -> "CompiledRuleset":
        return cls(tuple(_compile_rule(r) for r in merged_rules(document) if r.enabled))

    def actions_for(self, facts: EventFacts, user: Recipient) -> Optional[list[Any]]:
        """The actions of the first matching rule; None when none matches."""
        rule = self.first_match(facts, user)
        return None if rule is None else rule.actions

    def first_match(self, facts: EventFacts, user: Recipient) -> Optional[CompiledRule]:
        return self.plan(facts).first_match(facts, user)

    def plan(self, facts: EventFacts) -> _Plan:
        """This ruleset reduced for the event (computed once per event: every
        user sharing the ruleset, e.g. the server defaults, shares the plan)."""
        plan = facts.plans.get(id(self))
        if plan is None:
            plan = facts.plans[id(self)] = self._reduce(facts)
        return plan

    def _reduce(self, facts: EventFacts) -> _Plan:
        candidates = []
        for rule in self.rules:
            if not all(c.per_user or facts.holds(c) for c in rule.conditions):
                continue
            per_user = tuple(c for c in rule.conditions if c.per_user)
            if not per_user:
                return _Plan(tuple(candidates), rule)
            candidates.append((per_user, rule))
        return _Plan(tuple(candidates), None)


DEFAULT_RULESET = CompiledRuleset.from_document(None)
