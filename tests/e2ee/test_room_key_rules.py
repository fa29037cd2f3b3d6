"""The spec's rule for keeping or replacing a backed-up session key, and
validation of KeyBackupData (pure functions)."""

import pytest

from synapse.api.errors import SynapseError
from synapse.handlers.room_keys import check_key_backup_data, parse_version, should_replace_room_key


def k(verified: bool, index: int, forwarded: int) -> dict:
    return {"is_verified": verified, "first_message_index": index, "forwarded_count": forwarded, "session_data": {}}


@pytest.mark.parametrize(
    "existing, new, replace",
    [
        (k(False, 0, 0), k(True, 9, 9), True),  # verified wins over everything
        (k(True, 9, 9), k(False, 0, 0), False),
        (k(True, 5, 0), k(True, 4, 9), True),  # then the lower first_message_index
        (k(True, 4, 0), k(True, 5, 0), False),
        (k(False, 4, 3), k(False, 4, 2), True),  # then the lower forwarded_count
        (k(False, 4, 2), k(False, 4, 3), False),
        (k(False, 4, 2), k(False, 4, 2), False),  # equal: keep what is stored
    ],
)
def test_should_replace(existing: dict, new: dict, replace: bool) -> None:
    assert should_replace_room_key(existing, new) is replace


@pytest.mark.parametrize(
    "body, errcode",
    [
        ("nope", "M_BAD_JSON"),
        ({"first_message_index": 0, "forwarded_count": 0, "is_verified": False}, "M_MISSING_PARAM"),
        ({"first_message_index": -1, "forwarded_count": 0, "is_verified": False, "session_data": {}}, "M_BAD_JSON"),
        ({"first_message_index": True, "forwarded_count": 0, "is_verified": False, "session_data": {}}, "M_BAD_JSON"),
        ({"first_message_index": 0, "forwarded_count": 0, "is_verified": "no", "session_data": {}}, "M_BAD_JSON"),
        ({"first_message_index": 0, "forwarded_count": 0, "is_verified": False, "session_data": "x"}, "M_BAD_JSON"),
    ],
)
def test_bad_key_backup_data(body: object, errcode: str) -> None:
    with pytest.raises(SynapseError) as e:
        check_key_backup_data(body)
    assert e.value.errcode == errcode


def test_good_key_backup_data_drops_extra_fields() -> None:
    body = {"first_message_index": 1, "forwarded_count": 0, "is_verified": True, "session_data": {"a": 1}, "x": 2}
    assert check_key_backup_data(body) == {k: v for k, v in body.items() if k != "x"}


def test_parse_version() -> None:
    assert parse_version("12") == 12
    assert parse_version("abc") is None and parse_version("-1") is None and parse_version(None) is None
    assert parse_version("9" * 40) is None
