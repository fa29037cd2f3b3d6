"""DeviceStore and ProfileStore on SQLite and PostgreSQL."""

from typing import Any

import pytest
from twisted.internet import reactor

from synapse.storage.stores.devices import DeviceStore
from synapse.storage.stores.profile import ProfileStore
from synapse.storage.stores.registration import RegistrationStore
from synapse.util.clock import Clock
from tests.support.twisted import run


@pytest.fixture
def devices(db_pool: Any) -> DeviceStore:
    return DeviceStore(db_pool, Clock(reactor))  # type: ignore[arg-type]


def test_store_device_creates_once_and_keeps_name(devices: DeviceStore) -> None:
    assert run(devices.store_device("@a:test", "D1", "Phone")) is True
    assert run(devices.store_device("@a:test", "D1", "Other")) is False
    device = run(devices.get_device("@a:test", "D1"))
    assert device["display_name"] == "Phone" and device["last_seen"] is None
    assert run(devices.get_device("@b:test", "D1")) is None


def test_list_update_delete(devices: DeviceStore) -> None:
    for device_id in ("D2", "D1", "D3"):
        run(devices.store_device("@a:test", device_id, None))
    run(devices.store_device("@b:test", "D9", None))
    assert [d["device_id"] for d in run(devices.get_devices_by_user("@a:test"))] == ["D1", "D2", "D3"]
    assert run(devices.update_device("@a:test", "D2", "Laptop")) is True
    assert run(devices.update_device("@a:test", "NOPE", "x")) is False
    assert run(devices.get_device("@a:test", "D2"))["display_name"] == "Laptop"
    run(devices.record_last_seen("@a:test", "D2", "10.0.0.1", "curl"))
    seen = run(devices.get_device("@a:test", "D2"))
    assert seen["ip"] == "10.0.0.1" and seen["user_agent"] == "curl" and seen["last_seen"] > 0
    assert len(run(devices.get_devices_by_user("@b:test"))) == 1


def test_profile(db_pool: Any) -> None:
    profiles = ProfileStore(db_pool)
    assert run(profiles.get_profile("@p:test")) is None
    run(RegistrationStore(db_pool, Clock(reactor)).register_user("@p:test", None, displayname="P"))  # type: ignore[arg-type]
    assert run(profiles.get_profile("@p:test")) == {"displayname": "P", "avatar_url": None}
    run(profiles.set_avatar_url("@p:test", "mxc://test/abc"))
    run(profiles.set_displayname("@p:test", None))
    assert run(profiles.get_profile("@p:test")) == {"displayname": None, "avatar_url": "mxc://test/abc"}


def test_custom_profile_fields(db_pool: Any) -> None:
    profiles = ProfileStore(db_pool)
    assert run(profiles.get_custom_fields("@q:test")) == {}
    run(profiles.set_custom_field("@q:test", "m.tz", "Europe/Paris"))
    run(profiles.set_custom_field("@q:test", "org.example.list", [1, {"a": None}]))
    run(profiles.set_custom_field("@q:test", "m.tz", "UTC"))
    run(profiles.set_custom_field("@r:test", "m.tz", "Asia/Tokyo"))
    assert run(profiles.get_custom_fields("@q:test")) == {"m.tz": "UTC", "org.example.list": [1, {"a": None}]}
    run(profiles.delete_custom_field("@q:test", "m.tz"))
    run(profiles.delete_custom_field("@q:test", "m.nothing"))
    assert run(profiles.get_custom_fields("@q:test")) == {"org.example.list": [1, {"a": None}]}
