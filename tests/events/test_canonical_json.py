"""Canonical JSON: the appendix's examples and the strict number rules of room v6+."""

import pytest

from synapse.util.json import encode_canonical_json, find_non_canonical_number, parse_json

# (input JSON text, canonical output) from appendices.md "Canonical JSON / Examples"
SPEC_EXAMPLES = [
    ("{}", "{}"),
    ('{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'),
    ('{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'),
    ('{"b":"2","a":"1"}', '{"a":"1","b":"2"}'),
    (
        """{"auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {"display_name": "John Doe",
        "three_pids": [{"medium": "email", "address": "john.doe@example.org"},
                       {"medium": "msisdn", "address": "123456789"}]}}}""",
        (
            '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":'
            '[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},'
            '"success":true}}'
        ),
    ),
    ('{"a": "日本語"}', '{"a":"日本語"}'),
    ('{"本": 2, "日": 1}', '{"日":1,"本":2}'),
    ('{"a": "\\u65E5"}', '{"a":"日"}'),
    ('{"a": null}', '{"a":null}'),
]


@pytest.mark.parametrize("text,expected", SPEC_EXAMPLES)
def test_spec_examples(text: str, expected: str) -> None:
    assert encode_canonical_json(parse_json(text)) == expected.encode("utf-8")


def test_negative_zero_and_exponent_integers() -> None:
    # The last appendix example ({"a": -0, "b": 1e10}) as integer values:
    # JSON's -0 parses to integer 0; 1e10 is the integer 10000000000.
    assert parse_json('{"a": -0}') == {"a": 0}
    assert encode_canonical_json({"a": 0, "b": 10000000000}) == b'{"a":0,"b":10000000000}'


def test_parse_rejects_non_json_constants() -> None:
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'):
        with pytest.raises(ValueError):
            parse_json(text)


def test_parse_accepts_bytes() -> None:
    assert parse_json('{"a": "日"}'.encode("utf-8")) == {"a": "日"}


def test_non_canonical_numbers_are_found_with_their_path() -> None:
    assert find_non_canonical_number({"a": [1, 2, {"b": 2**53 - 1}]}) is None
    assert find_non_canonical_number({"a": -(2**53) + 1}) is None
    assert find_non_canonical_number({"a": [1, {"b": 2**53}]}) == "a[1].b"
    assert find_non_canonical_number({"a": -(2**53)}) == "a"
    assert find_non_canonical_number({"x": {"y": 1.5}}) == "x.y"
    assert find_non_canonical_number({"ok": True, "none": None, "s": "1.5"}) is None
