"""Pure helpers of the accounts area: token format, shared-secret MAC, login identifiers."""

import zlib

import pytest

from synapse.api.errors import AuthError, SynapseError
from synapse.handlers.auth import _base62, generate_access_token, login_identifier_user
from synapse.handlers.register import shared_secret_mac


def test_access_token_format() -> None:
    token = generate_access_token("@alice:example.org")
    prefix, localpart, random_part, crc = token.split("_")
    assert prefix == "syt" and localpart == "YWxpY2U" and len(random_part) == 20
    body = token.rsplit("_", 1)[0]
    assert crc == _base62(zlib.crc32(body.encode()), 6)
    assert generate_access_token("@alice:example.org") != token


def test_base62() -> None:
    assert _base62(0, 3) == "000"
    assert _base62(61, 1) == "Z"
    assert _base62(62, 2) == "10"


def test_shared_secret_mac_matches_synapse_scheme() -> None:
    # the value register_new_matrix_user computes for these inputs
    # (hmac-sha1 of "abcd\0bob\0pw\0notadmin" keyed with "shared")
    import hashlib
    import hmac

    expected = hmac.new(b"shared", b"abcd\x00bob\x00pw\x00notadmin", hashlib.sha1).hexdigest()
    assert shared_secret_mac("shared", "abcd", "bob", "pw", False) == expected
    with_type = hmac.new(b"shared", b"abcd\x00bob\x00pw\x00admin\x00bot", hashlib.sha1).hexdigest()
    assert shared_secret_mac("shared", "abcd", "bob", "pw", True, "bot") == with_type


def test_login_identifier_user() -> None:
    assert login_identifier_user({"identifier": {"type": "m.id.user", "user": "bob"}}) == "bob"
    assert login_identifier_user({"user": "@bob:hs"}) == "@bob:hs"
    with pytest.raises(SynapseError) as e:
        login_identifier_user({})
    assert e.value.errcode == "M_MISSING_PARAM"
    with pytest.raises(SynapseError) as e:
        login_identifier_user({"identifier": "bob"})
    assert e.value.errcode == "M_BAD_JSON"
    with pytest.raises(SynapseError) as e:
        login_identifier_user({"identifier": {"type": "m.id.user"}})
    assert e.value.errcode == "M_MISSING_PARAM"
    with pytest.raises(AuthError):
        login_identifier_user({"identifier": {"type": "m.id.thirdparty", "medium": "email", "address": "a@b"}})
    with pytest.raises(SynapseError) as e:
        login_identifier_user({"identifier": {"type": "m.id.nonsense"}})
    assert e.value.errcode == "M_UNKNOWN"
