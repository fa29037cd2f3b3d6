"""The `redis` section: the replication bus between processes."""

from typing import Optional

import attrs

from synapse.config._base import ParseContext

KEYS = frozenset({"redis"})


@attrs.frozen
class RedisConfig:
    enabled: bool
    host: str
    port: int
    # a UNIX socket path; when set, host and port are not used
    path: Optional[str]
    password: Optional[str]
    dbid: Optional[int]
    use_tls: bool

    @classmethod
    def parse(cls, ctx: ParseContext) -> "RedisConfig":
        node = ctx.root["redis"]
        node.mapping()
        password = node["password"].as_str(None)
        password_path = node["password_path"]
        if password_path.present:
            if password is not None:
                raise password_path.error("set redis.password or redis.password_path, not both")
            try:
                with open(password_path.as_str(), encoding="utf-8") as f:
                    password = f.read().strip()
            except OSError as e:
                raise password_path.error(f"cannot read {password_path.value}: {e.strerror}") from None
        return cls(
            enabled=node["enabled"].as_bool(False),
            host=node["host"].as_str("localhost"),
            port=node["port"].as_int(6379, minimum=1, maximum=65535),
            path=node["path"].as_str(None),
            password=password,
            dbid=node["dbid"].as_int(None, minimum=0),
            use_tls=node["use_tls"].as_bool(False),
        )
