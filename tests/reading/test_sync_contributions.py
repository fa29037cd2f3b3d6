"""Per-user streams' /sync contributions merge: two streams adding to one
room's ephemeral section (typing and receipts) or to one top-level section
both reach the client."""

from synapse.handlers.sync import SyncResult
from synapse.streams.base import SyncContribution
from synapse.streams.tokens import StreamToken


def test_contributions_to_one_section_are_concatenated() -> None:
    result = SyncResult(next_batch=StreamToken({}))
    typing = {"type": "m.typing", "content": {"user_ids": ["@a:hs"]}}
    receipt = {"type": "m.receipt", "content": {"$e": {"m.read": {"@a:hs": {"ts": 1}}}}}
    result.add_stream_contribution(SyncContribution(rooms={"!r": {"ephemeral": {"events": [typing]}}}))
    result.add_stream_contribution(SyncContribution(rooms={"!r": {"ephemeral": {"events": [receipt]}}}))
    result.add_stream_contribution(SyncContribution(top_level={"account_data": {"events": [{"type": "a"}]}}))
    result.add_stream_contribution(SyncContribution(top_level={"account_data": {"events": [{"type": "b"}]}}))
    body = result.to_json()
    assert body["rooms"]["join"]["!r"]["ephemeral"]["events"] == [typing, receipt]
    assert body["account_data"]["events"] == [{"type": "a"}, {"type": "b"}]
    assert bool(result)


def test_a_room_with_only_stream_data_gets_a_full_entry() -> None:
    result = SyncResult(next_batch=StreamToken({}))
    result.add_stream_contribution(SyncContribution(rooms={"!r": {"account_data": {"events": [{"type": "x"}]}}}))
    room = result.to_json()["rooms"]["join"]["!r"]
    assert room["timeline"] == {"events": [], "limited": False}
    assert room["account_data"]["events"] == [{"type": "x"}]


def test_key_counts_alone_do_not_end_a_long_poll() -> None:
    result = SyncResult(next_batch=StreamToken({}))
    result.device_sections = {"device_one_time_keys_count": {"signed_curve25519": 5}, "device_lists": {"changed": []}}
    assert not result
    assert result.to_json()["device_one_time_keys_count"] == {"signed_curve25519": 5}
    result.device_sections["device_lists"] = {"changed": ["@b:hs"], "left": []}
    assert result
