"""RegistrationStore on SQLite and PostgreSQL: users, tokens, nonces, UIA sessions."""

from typing import Any

import pytest
from twisted.internet import reactor

from synapse.storage.stores.registration import RegistrationStore
from synapse.util.clock import Clock
from tests.support.twisted import run


class FakeClock(Clock):
    """A clock whose time the test sets; the database still runs on the real reactor."""

    def __init__(self) -> None:
        super().__init__(reactor)  # type: ignore[arg-type]
        self.now_ms = 1_000_000

    def time(self) -> float:
        return self.now_ms / 1000

    def time_msec(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_pool: Any, clock: FakeClock) -> RegistrationStore:
    return RegistrationStore(db_pool, clock)


def test_register_and_get_user(store: RegistrationStore) -> None:
    assert run(store.register_user("@alice:test", "hash", admin=True, displayname="Alice")) is True
    user = run(store.get_user("@alice:test"))
    assert user["name"] == "@alice:test"
    assert user["admin"] is True and user["is_guest"] is False and user["deactivated"] is False
    assert user["creation_ts"] == 1_000_000
    assert run(store.is_admin("@alice:test")) is True
    assert run(store.get_password_hash("@alice:test")) == "hash"
    assert run(store.get_user("@nobody:test")) is None
    assert run(store.is_admin("@nobody:test")) is False


def test_register_twice_is_refused_and_keeps_first(store: RegistrationStore) -> None:
    assert run(store.register_user("@bob:test", "one")) is True
    assert run(store.register_user("@bob:test", "two")) is False
    assert run(store.get_password_hash("@bob:test")) == "one"


def test_registration_creates_profile_row(store: RegistrationStore, db_pool: Any) -> None:
    run(store.register_user("@carol:test", None, displayname="Carol"))
    rows = run(db_pool.execute("p", "SELECT displayname, avatar_url FROM profiles WHERE user_id = ?", "@carol:test"))
    assert [tuple(r) for r in rows] == [("Carol", None)]


def test_case_insensitive_lookup(store: RegistrationStore) -> None:
    run(store.register_user("@Dave:test", None))
    assert run(store.find_user_ids_case_insensitive("@dave:test")) == ["@Dave:test"]
    assert run(store.find_user_ids_case_insensitive("@eve:test")) == []


def test_password_and_deactivation(store: RegistrationStore) -> None:
    run(store.register_user("@frank:test", "old"))
    run(store.set_password_hash("@frank:test", "new"))
    assert run(store.get_password_hash("@frank:test")) == "new"
    run(store.set_deactivated("@frank:test", True))
    assert run(store.get_user("@frank:test"))["deactivated"] is True


def test_access_tokens(store: RegistrationStore) -> None:
    run(store.register_user("@gina:test", None, is_guest=True))
    first = run(store.add_access_token("@gina:test", "tok1", "DEV1"))
    second = run(store.add_access_token("@gina:test", "tok2", "DEV2", valid_until_ms=5))
    third = run(store.add_access_token("@gina:test", "tok3", None))
    assert len({first, second, third}) == 3
    info = run(store.get_user_by_access_token("tok2"))
    assert info == {
        "user_id": "@gina:test",
        "device_id": "DEV2",
        "token_id": second,
        "valid_until_ms": 5,
        "is_guest": True,
        "deactivated": False,
    }
    assert run(store.get_user_by_access_token("nope")) is None

    assert run(store.delete_access_tokens("@gina:test", device_ids=["DEV1"])) == ["tok1"]
    assert run(store.get_user_by_access_token("tok1")) is None
    assert run(store.delete_access_tokens("@gina:test", device_ids=[])) == []
    deleted = run(store.delete_access_tokens("@gina:test", except_token_id=third))
    assert deleted == ["tok2"]
    assert run(store.get_user_by_access_token("tok3"))["token_id"] == third
    run(store.delete_access_token("tok3"))
    assert run(store.get_user_by_access_token("tok3")) is None


def test_token_ids_keep_growing_across_store_instances(db_pool: Any, clock: FakeClock) -> None:
    a = RegistrationStore(db_pool, clock)
    run(a.register_user("@h:test", None))
    first = run(a.add_access_token("@h:test", "t1", None))
    b = RegistrationStore(db_pool, clock)
    second = run(b.add_access_token("@h:test", "t2", None))
    assert second > first


def test_nonces_are_single_use_and_expire(store: RegistrationStore, clock: FakeClock) -> None:
    run(store.add_registration_nonce("n1"))
    run(store.add_registration_nonce("n2"))
    assert run(store.consume_registration_nonce("n1", 60_000)) is True
    assert run(store.consume_registration_nonce("n1", 60_000)) is False
    clock.now_ms += 60_001
    assert run(store.consume_registration_nonce("n2", 60_000)) is False
    assert run(store.consume_registration_nonce("unknown", 60_000)) is False


def test_ui_auth_sessions(store: RegistrationStore, clock: FakeClock) -> None:
    run(store.create_ui_auth_session("s1", "POST", "/register", {"username": "x"}, expire_before_ms=0))
    session = run(store.get_ui_auth_session("s1"))
    assert session["method"] == "POST" and session["uri"] == "/register"
    assert session["clientdict"] == {"username": "x"}
    assert session["serverdict"] == {} and session["completed"] == {}

    run(store.mark_ui_auth_stage_complete("s1", "m.login.dummy", True))
    run(store.mark_ui_auth_stage_complete("s1", "m.login.password", "@x:test"))
    run(store.set_ui_auth_server_data("s1", "password_hash", "h"))
    run(store.set_ui_auth_clientdict("s1", {"username": "y"}))
    session = run(store.get_ui_auth_session("s1"))
    assert session["completed"] == {"m.login.dummy": True, "m.login.password": "@x:test"}
    assert session["serverdict"] == {"password_hash": "h"}
    assert session["clientdict"] == {"username": "y"}

    # creating a session sweeps those created before the cutoff
    clock.now_ms += 10
    run(store.create_ui_auth_session("s2", "POST", "/register", {}, expire_before_ms=clock.now_ms))
    assert run(store.get_ui_auth_session("s1")) is None
    assert run(store.get_ui_auth_session("s2"))["completed"] == {}
