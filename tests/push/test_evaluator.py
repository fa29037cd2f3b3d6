"""Push rule conditions and the server-default rules, table-driven from the
spec's examples (client-server API, "Push Rules": conditions and predefined rules)."""

from typing import Any, Optional

import pytest

from synapse.push.evaluator import (
    DEFAULT_RULESET,
    CompiledRuleset,
    EventFacts,
    Recipient,
    compile_condition,
    compile_glob,
    notifies,
)
from synapse.push.rules import DEFAULT_OVERRIDE, DEFAULT_UNDERRIDE, merged_rules, ruleset_json, with_attribute

ME = "@me:example.org"
ROOM = "!room:example.org"


def facts(
    event: dict[str, Any], member_count: int = 5, sender_level: int = 0, levels: Optional[dict] = None
) -> EventFacts:
    event = {"sender": "@other:example.org", "room_id": ROOM, "event_id": "$e", **event}
    return EventFacts(event, member_count, sender_level, levels or {})


def matches(condition: dict[str, Any], event: dict[str, Any], display_name: Optional[str] = None, **kw: Any) -> bool:
    return compile_condition(condition).matches(facts(event, **kw), Recipient(ME, display_name))


TOPIC = {"kind": "event_match", "key": "content.topic", "pattern": "lunc?*"}
BODY = {"kind": "event_match", "key": "content.body", "pattern": "ex*ple"}
FEDERATE = {"kind": "event_property_is", "key": "content.m\\.federate", "value": True}
ALIASES = {"kind": "event_property_contains", "key": "content.alt_aliases", "value": "#myroom:example.com"}


@pytest.mark.parametrize(
    "condition, content, expected",
    [
        # event_match (spec example): whole value, case-insensitive; * may match nothing, ? one character
        (TOPIC, {"topic": "Lunch plans"}, True),
        (TOPIC, {"topic": "LUNCH"}, True),
        (TOPIC, {"topic": " lunch"}, False),
        (TOPIC, {"topic": "lunc"}, False),
        (TOPIC, {"topic": None}, False),
        (TOPIC, {}, False),
        ({"kind": "event_match", "key": "content.topic", "pattern": "*"}, {"topic": 3}, False),
        ({"kind": "event_match", "key": "content.topic", "pattern": "[ab]c"}, {"topic": "bc"}, True),
        ({"kind": "event_match", "key": "content.topic", "pattern": "[!ab]c"}, {"topic": "bc"}, False),
        # content.body matches any substring at word boundaries
        (BODY, {"body": "An example event."}, True),
        (BODY, {"body": "exple"}, True),
        (BODY, {"body": "An exciting triple-whammy"}, True),
        (BODY, {"body": "Anexample"}, False),
        (BODY, {"body": "examples"}, False),
        # event_property_is: exact, no casts
        (FEDERATE, {"m.federate": True}, True),
        (FEDERATE, {"m.federate": "true"}, False),
        (FEDERATE, {"m.federate": 1}, False),
        (FEDERATE, {}, False),
        ({"kind": "event_property_is", "key": "content.x", "value": None}, {"x": None}, True),
        ({"kind": "event_property_is", "key": "content.x", "value": 1}, {"x": True}, False),
        ({"kind": "event_property_is", "key": "content.x", "value": 1}, {"x": 1}, True),
        # event_property_contains: exact array membership
        (ALIASES, {"alt_aliases": ["#somewhere:example.org", "#myroom:example.com"]}, True),
        (ALIASES, {"alt_aliases": [":example.com"]}, False),
        (ALIASES, {"alt_aliases": "#myroom:example.com"}, False),
        ({"kind": "event_property_contains", "key": "content.x", "value": 1}, {"x": [True, 1]}, True),
        ({"kind": "event_property_contains", "key": "content.x", "value": 1}, {"x": [True]}, False),
        # unknown and malformed conditions never match
        ({"kind": "org.example.unknown"}, {"body": "x"}, False),
        ({"kind": "event_match", "key": "content.body"}, {"body": "x"}, False),
        ({"kind": "room_member_count", "is": "about 2"}, {}, False),
    ],
)
def test_condition(condition: dict, content: dict, expected: bool) -> None:
    assert matches(condition, {"type": "m.room.message", "content": content}) is expected


@pytest.mark.parametrize(
    "spec, count, expected",
    [
        ("2", 2, True), ("2", 3, False), ("==2", 2, True), ("<10", 9, True), ("<10", 10, False),
        (">10", 11, True), (">10", 10, False), ("<=10", 10, True), ("<=10", 11, False),
        (">=10", 10, True), (">=10", 9, False),
    ],
)  # fmt: skip
def test_room_member_count(spec: str, count: int, expected: bool) -> None:
    assert matches({"kind": "room_member_count", "is": spec}, {"type": "x"}, member_count=count) is expected


@pytest.mark.parametrize(
    "levels, sender_level, expected",
    [({}, 50, True), ({}, 49, False), ({"room": 10}, 10, True), ({"room": 10}, 9, False), ({"room": "20"}, 20, True)],
)
def test_sender_notification_permission(levels: dict, sender_level: int, expected: bool) -> None:
    condition = {"kind": "sender_notification_permission", "key": "room"}
    assert matches(condition, {"type": "x"}, sender_level=sender_level, levels=levels) is expected


@pytest.mark.parametrize(
    "body, name, expected",
    [("hi Me Myself!", "me myself", True), ("hi memyself", "me", False), ("hi", None, False), ("a (b) c", "(b)", True)],
)
def test_contains_display_name(body: str, name: Optional[str], expected: bool) -> None:
    event = {"type": "m.room.message", "content": {"body": body}}
    assert matches({"kind": "contains_display_name"}, event, display_name=name) is expected


def test_globs_compile_once() -> None:
    assert compile_glob("cake*lie", True) is compile_glob("cake*lie", True)


def _message(body: str = "hi", **content: Any) -> dict[str, Any]:
    return {"type": "m.room.message", "content": {"msgtype": "m.text", "body": body, **content}}


@pytest.mark.parametrize(
    "event, member_count, sender_level, rule_id",
    [
        (_message(), 5, 0, ".m.rule.message"),
        (_message(), 2, 0, ".m.rule.room_one_to_one"),
        ({"type": "m.room.encrypted", "content": {}}, 2, 0, ".m.rule.encrypted_room_one_to_one"),
        ({"type": "m.room.encrypted", "content": {}}, 3, 0, ".m.rule.encrypted"),
        ({"type": "m.call.invite", "content": {}}, 3, 0, ".m.rule.call"),
        (_message(msgtype="m.notice"), 2, 0, ".m.rule.suppress_notices"),
        (
            {"type": "m.room.member", "state_key": ME, "content": {"membership": "invite"}},
            2, 0, ".m.rule.invite_for_me",
        ),
        ({"type": "m.room.member", "state_key": "@x:y", "content": {"membership": "invite"}}, 2, 0, ".m.rule.member_event"),
        (_message(**{"m.mentions": {"user_ids": [ME]}}), 5, 0, ".m.rule.is_user_mention"),
        (_message(**{"m.mentions": {"user_ids": ["@else:y"]}}), 5, 0, ".m.rule.message"),
        (_message(**{"m.mentions": {"room": True}}), 5, 50, ".m.rule.is_room_mention"),
        (_message(**{"m.mentions": {"room": True}}), 5, 0, ".m.rule.message"),
        ({"type": "m.room.tombstone", "state_key": "", "content": {}}, 5, 0, ".m.rule.tombstone"),
        ({"type": "m.room.tombstone", "content": {}}, 5, 0, None),
        ({"type": "m.reaction", "content": {}}, 2, 0, ".m.rule.reaction"),
        ({"type": "m.room.server_acl", "state_key": "", "content": {}}, 2, 0, ".m.rule.room.server_acl"),
        (_message(**{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}), 2, 0, ".m.rule.suppress_edits"),
        ({"type": "m.room.topic", "state_key": "", "content": {"topic": "x"}}, 2, 0, None),
    ],
)  # fmt: skip
def test_default_rules(event: dict, member_count: int, sender_level: int, rule_id: Optional[str]) -> None:
    rule = DEFAULT_RULESET.first_match(facts(event, member_count, sender_level), Recipient(ME))
    assert (rule.rule_id if rule else None) == rule_id


def test_default_rule_actions_per_spec() -> None:
    by_id = {r["rule_id"]: r for r in DEFAULT_OVERRIDE + DEFAULT_UNDERRIDE}
    assert notifies(by_id[".m.rule.is_user_mention"]["actions"]) == (True, True)
    assert notifies(by_id[".m.rule.is_room_mention"]["actions"]) == (True, True)
    assert notifies(by_id[".m.rule.message"]["actions"]) == (True, False)
    assert notifies(by_id[".m.rule.suppress_notices"]["actions"]) == (False, False)
    assert notifies([{"set_tweak": "highlight", "value": False}, "notify"]) == (True, False)
    assert [r["rule_id"] for r in ruleset_json(None, ME)["override"]][0] == ".m.rule.master"


def test_user_rules_order_and_master() -> None:
    document = {
        "rules": {
            "override": [{"rule_id": "quiet", "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.*"}], "actions": []}],
            "content": [{"rule_id": "cake", "pattern": "cake", "actions": ["notify", {"set_tweak": "highlight"}]}],
            "sender": [{"rule_id": "@spam:x", "actions": []}],
        }
    }  # fmt: skip
    assert [r.rule_id for r in merged_rules(document)][:3] == [".m.rule.master", "quiet", ".m.rule.suppress_notices"]
    ruleset = CompiledRuleset.from_document({"rules": {"content": document["rules"]["content"]}})
    assert ruleset.actions_for(facts(_message("I want CAKE")), Recipient(ME)) == ["notify", {"set_tweak": "highlight"}]
    spam = {**_message("cake"), "sender": "@spam:x"}
    assert CompiledRuleset.from_document(document).first_match(facts(spam), Recipient(ME)).rule_id == "quiet"
    only_sender = CompiledRuleset.from_document({"rules": {"sender": document["rules"]["sender"]}})
    assert only_sender.first_match(EventFacts({**spam, "room_id": ROOM}, 5, 0, {}), Recipient(ME)).rule_id == "@spam:x"
    # the master rule, once enabled, beats everything
    muted = CompiledRuleset.from_document(with_attribute(document, "override", ".m.rule.master", "enabled", True))
    assert muted.actions_for(facts(_message(**{"m.mentions": {"user_ids": [ME]}})), Recipient(ME)) == []


def test_per_user_conditions_differ_by_user_and_the_plan_is_shared() -> None:
    shared = facts(_message(**{"m.mentions": {"user_ids": [ME]}}))
    assert DEFAULT_RULESET.first_match(shared, Recipient(ME)).rule_id == ".m.rule.is_user_mention"
    assert DEFAULT_RULESET.first_match(shared, Recipient("@you:example.org")).rule_id == ".m.rule.message"
    assert len(shared.plans) == 1  # one reduction of the defaults serves every member
