"""`HomeServerConfig`: every section, parsed from the merged YAML files.

    config = HomeServerConfig.load(["homeserver.yaml", "conf.d/"])
    config.server.server_name, config.database.args, config.worker.is_main ...

Top-level keys no section reads are logged once as unknown (they are
probably typos or Synapse options we do not implement).
"""

import logging
import os
from typing import Any, Iterable, Optional

import attrs

from synapse.api.errors import ConfigError
from synapse.config import (
    database,
    federation,
    key,
    media,
    metrics,
    presence,
    ratelimiting,
    redis,
    registration,
    room_directory,
    server,
    user_directory,
    workers,
)
from synapse.config import (
    logger as logger_section,
)
from synapse.config._base import Node, ParseContext
from synapse.config.database import DatabaseConfig
from synapse.config.federation import FederationConfig
from synapse.config.files import find_config_files, read_config_files
from synapse.config.key import KeyConfig
from synapse.config.logger import LoggingConfig
from synapse.config.media import MediaConfig
from synapse.config.metrics import MetricsConfig
from synapse.config.presence import PresenceConfig
from synapse.config.ratelimiting import RatelimitConfig
from synapse.config.redis import RedisConfig
from synapse.config.registration import RegistrationConfig
from synapse.config.room_directory import RoomDirectoryConfig
from synapse.config.server import ServerConfig
from synapse.config.user_directory import UserDirectoryConfig
from synapse.config.workers import WorkerConfig

logger = logging.getLogger(__name__)

KNOWN_KEYS = frozenset().union(
    server.KEYS,
    database.KEYS,
    federation.KEYS,
    logger_section.KEYS,
    key.KEYS,
    registration.KEYS,
    ratelimiting.KEYS,
    media.KEYS,
    metrics.KEYS,
    presence.KEYS,
    user_directory.KEYS,
    room_directory.KEYS,
    workers.KEYS,
    redis.KEYS,
)

_warned_unknown_keys: set[str] = set()


@attrs.frozen
class HomeServerConfig:
    config_files: list[str]
    # the merged top-level mapping, as read
    root: dict[str, Any]
    # where generated companions (keys, log config) live, and where data lives
    config_dir: str
    data_dir: str
    server: ServerConfig
    federation: FederationConfig
    database: DatabaseConfig
    logging: LoggingConfig
    key: KeyConfig
    registration: RegistrationConfig
    ratelimiting: RatelimitConfig
    media: MediaConfig
    metrics: MetricsConfig
    presence: PresenceConfig
    userdirectory: UserDirectoryConfig
    roomdirectory: RoomDirectoryConfig
    worker: WorkerConfig
    redis: RedisConfig

    @classmethod
    def load(
        cls, paths: list[str], *, config_dir: Optional[str] = None, data_dir: Optional[str] = None
    ) -> "HomeServerConfig":
        """Read, merge and parse config files (directories mean their *.yaml).

        `config_dir` defaults to the directory of the last file and
        `data_dir` to the working directory, as in Synapse.
        Raises ConfigError (one line naming file and key) on any problem.
        """
        files = find_config_files(paths)
        if not files:
            raise ConfigError("no config files given (a directory given holds no *.yaml files)")
        root, origins = read_config_files(files)
        return cls.from_dict(
            root,
            config_dir=config_dir or os.path.dirname(os.path.abspath(files[-1])),
            data_dir=data_dir,
            config_files=files,
            origins=origins,
        )

    @classmethod
    def from_dict(
        cls,
        root: dict[str, Any],
        *,
        config_dir: str,
        data_dir: Optional[str] = None,
        config_files: Iterable[str] = (),
        origins: Optional[dict[str, str]] = None,
    ) -> "HomeServerConfig":
        """Parse an already merged mapping (tests build configs this way)."""
        files = list(config_files)
        # a missing key is blamed on the last file: that is where to add it
        node = Node(root, (), files[-1] if files else None, origins or {})
        node.mapping()
        ctx = ParseContext(node, os.path.abspath(config_dir), os.path.abspath(data_dir or os.getcwd()))
        _warn_unknown_keys(root, origins or {})
        return cls(
            config_files=files,
            root=root,
            config_dir=ctx.config_dir,
            data_dir=ctx.data_dir,
            server=ServerConfig.parse(ctx),
            federation=FederationConfig.parse(ctx),
            database=DatabaseConfig.parse(ctx),
            logging=LoggingConfig.parse(ctx),
            key=KeyConfig.parse(ctx),
            registration=RegistrationConfig.parse(ctx),
            ratelimiting=RatelimitConfig.parse(ctx),
            media=MediaConfig.parse(ctx),
            metrics=MetricsConfig.parse(ctx),
            presence=PresenceConfig.parse(ctx),
            userdirectory=UserDirectoryConfig.parse(ctx),
            roomdirectory=RoomDirectoryConfig.parse(ctx),
            worker=WorkerConfig.parse(ctx),
            redis=RedisConfig.parse(ctx),
        )


def _warn_unknown_keys(root: dict[str, Any], origins: dict[str, str]) -> None:
    for name in sorted(set(root) - KNOWN_KEYS):
        if name in _warned_unknown_keys:
            continue
        _warned_unknown_keys.add(name)
        where = f" (in {origins[name]})" if name in origins else ""
        logger.warning("Ignoring unknown config option %r%s", name, where)
