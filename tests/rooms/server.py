"""A HomeServer over a test database pool, for rooms handler and store tests.

The config is a small namespace with the sections the rooms area reads;
the accounts stores (profiles, admins) are replaced by in-memory doubles
whose contents a test sets, since their real tables belong to another area.
"""

from types import SimpleNamespace
from typing import Any, Optional

from signedjson.key import generate_signing_key

from synapse.config.presence import PresenceConfig
from synapse.events.room_versions import KNOWN_ROOM_VERSIONS
from synapse.server import HomeServer
from synapse.storage.database import DatabasePool
from synapse.storage.databases import DataStores
from synapse.storage.id_generators import StreamIdGenerator
from synapse.streams.registry import STREAMS
from synapse.types import Requester, UserID

SERVER_NAME = "test.local"


class Limit(SimpleNamespace):
    per_second: float
    burst_count: int


def _limit(per_second: float = 1000.0, burst_count: int = 1000) -> Limit:
    return Limit(per_second=per_second, burst_count=burst_count)


def make_config(**ratelimits: Any) -> SimpleNamespace:
    names = (
        "rc_message", "rc_joins_local", "rc_joins_per_room", "rc_invites_per_room",
        "rc_invites_per_user", "rc_invites_per_issuer", "rc_room_creation", "rc_presence_per_user",
    )  # fmt: skip
    limits = {name: ratelimits.get(name, _limit()) for name in names}
    return SimpleNamespace(
        server=SimpleNamespace(server_name=SERVER_NAME, default_room_version=KNOWN_ROOM_VERSIONS["10"]),
        worker=SimpleNamespace(instance_name="master", is_main=True),
        ratelimiting=SimpleNamespace(**limits),
        roomdirectory=SimpleNamespace(
            is_publishing_room_allowed=lambda user_id, room_id, aliases: True,
            is_alias_creation_allowed=lambda user_id, room_id, alias: True,
            enable_room_list_search=True,
        ),
        key=SimpleNamespace(signing_key=[generate_signing_key("a_test")]),
        presence=PresenceConfig(enabled=True, track_presence=True),
    )


class FakeProfiles:
    def __init__(self) -> None:
        self.profiles: dict[str, dict[str, Optional[str]]] = {}

    async def get_profile(self, user_id: str) -> Optional[dict[str, Optional[str]]]:
        return self.profiles.get(user_id)


class FakeRegistration:
    def __init__(self) -> None:
        self.admins: set[str] = set()

    async def is_admin(self, user_id: str) -> bool:
        return user_id in self.admins


async def make_homeserver(db: DatabasePool, config: Optional[SimpleNamespace] = None) -> HomeServer:
    """What HomeServer.setup does, on an already prepared pool."""
    hs = HomeServer(config or make_config())
    hs._db = db
    for spec in STREAMS:
        hs.id_generators[spec.name] = await StreamIdGenerator.create(
            db, spec.name, hs.instance_name, [hs.instance_name]
        )
    hs._stores = DataStores(db, hs.clock, hs.id_generators)
    hs._stores.__dict__["profile"] = FakeProfiles()
    hs._stores.__dict__["registration"] = FakeRegistration()
    return hs


def requester(localpart: str, device_id: Optional[str] = "DEV") -> Requester:
    return Requester(UserID(localpart, SERVER_NAME), device_id, None)


def user(localpart: str) -> str:
    return f"@{localpart}:{SERVER_NAME}"
