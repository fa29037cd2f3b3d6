"""Devices: created at login, listed, renamed and deleted together with
their tokens, keys and to-device inbox. Each creation, rename and deletion
is a change on the device_lists stream (synapse/streams/device_lists.py)."""

import secrets
import string
from typing import TYPE_CHECKING, Any, Optional

from synapse.api.errors import Codes, NotFoundError, SynapseError

if TYPE_CHECKING:
    from synapse.server import HomeServer

MAX_DEVICE_DISPLAY_NAME_LEN = 100
MAX_DEVICE_ID_LEN = 255


def generate_device_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(10))


def client_device(device: dict[str, Any]) -> dict[str, Any]:
    """A device as the spec's Device object."""
    result: dict[str, Any] = {"device_id": device["device_id"], "display_name": device["display_name"]}
    if device["ip"] is not None:
        result["last_seen_ip"] = device["ip"]
    if device["last_seen"] is not None:
        result["last_seen_ts"] = device["last_seen"]
    return result


class DeviceHandler:
    def __init__(self, hs: "HomeServer") -> None:
        self._hs = hs

    @property
    def _store(self) -> Any:
        return self._hs.stores.devices

    async def check_device_registered(
        self, user_id: str, device_id: Optional[str], initial_display_name: Optional[str] = None
    ) -> str:
        """Returns `device_id` (a new one if None), creating the device if it is new."""
        if device_id is not None:
            if not isinstance(device_id, str) or not device_id or len(device_id) > MAX_DEVICE_ID_LEN:
                raise SynapseError(400, "Invalid device_id", Codes.INVALID_PARAM)
            if await self._store.store_device(user_id, device_id, _check_display_name(initial_display_name)):
                await self._record_change(user_id)
            return device_id
        for _ in range(5):
            device_id = generate_device_id()
            if await self._store.store_device(user_id, device_id, _check_display_name(initial_display_name)):
                await self._record_change(user_id)
                return device_id
        raise SynapseError(500, "Could not allocate a device id", Codes.UNKNOWN)

    async def get_devices(self, user_id: str) -> list[dict[str, Any]]:
        return [client_device(d) for d in await self._store.get_devices_by_user(user_id)]

    async def get_device(self, user_id: str, device_id: str) -> dict[str, Any]:
        device = await self._store.get_device(user_id, device_id)
        if device is None:
            raise NotFoundError("No device found")
        return client_device(device)

    async def update_device(self, user_id: str, device_id: str, content: dict[str, Any]) -> None:
        """Applies a PUT /devices/{deviceId} body: 404 if the device does not exist."""
        display_name = _check_display_name(content.get("display_name"))
        if "display_name" not in content:
            if await self._store.get_device(user_id, device_id) is None:
                raise NotFoundError("No device found")
            return
        if not await self._store.update_device(user_id, device_id, display_name):
            raise NotFoundError("No device found")
        await self._record_change(user_id)

    async def delete_devices(self, user_id: str, device_ids: list[str]) -> None:
        """Logs out the devices' access tokens, then deletes the devices with
        their keys and their queued to-device messages."""
        await self._hs.auth_handler.delete_access_tokens_for_user(user_id, device_ids=device_ids)
        if not device_ids:
            return
        await self._hs.stream_writer("device_lists").delete_devices(user_id=user_id, device_ids=device_ids)
        await self._hs.stream_writer("to_device").delete_inboxes(user_id=user_id, device_ids=device_ids)

    async def _record_change(self, user_id: str) -> None:
        await self._hs.stream_writer("device_lists").record_changes(user_ids=[user_id])

    async def delete_all_devices_for_user(self, user_id: str, except_device_id: Optional[str] = None) -> None:
        devices = await self._store.get_devices_by_user(user_id)
        await self.delete_devices(user_id, [d["device_id"] for d in devices if d["device_id"] != except_device_id])


def _check_display_name(display_name: Any) -> Optional[str]:
    if display_name is None:
        return None
    if not isinstance(display_name, str):
        raise SynapseError(400, "'display_name' must be a string", Codes.BAD_JSON)
    if len(display_name) > MAX_DEVICE_DISPLAY_NAME_LEN:
        raise SynapseError(400, f"Device display name is too long (max {MAX_DEVICE_DISPLAY_NAME_LEN})", Codes.TOO_LARGE)
    return display_name
