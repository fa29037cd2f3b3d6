"""Per-section parsing: database, rate limits, room directory, listeners, redis."""

import pytest

from synapse.api.errors import ConfigError
from synapse.config.homeserver import HomeServerConfig
from synapse.config.ratelimiting import RatelimitSettings


def load(tmp_path, minimal, **extra) -> HomeServerConfig:
    return HomeServerConfig.from_dict({**minimal, **extra}, config_dir=str(tmp_path), config_files=["hs.yaml"])


def load_error(tmp_path, minimal, **extra) -> str:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, minimal, **extra)
    return str(exc.value)


def test_sqlite_database(tmp_path, minimal):
    config = load(tmp_path, minimal, database={"name": "sqlite3", "args": {"database": "/data/hs.db"}})
    assert config.database.name == "sqlite3" and config.database.is_sqlite
    assert config.database.args == {"database": "/data/hs.db", "cp_min": 1, "cp_max": 1}


def test_postgres_args_are_normalised(tmp_path, minimal):
    config = load(
        tmp_path,
        minimal,
        database={
            "name": "psycopg2",
            "args": {"user": "synapse", "password": "pw", "dbname": "hs", "host": "db", "port": "5433",
                     "cp_min": "2", "sslmode": "require"},
        },
    )
    assert config.database.name == "psycopg2"
    assert config.database.args == {
        "user": "synapse", "password": "pw", "database": "hs", "host": "db", "port": 5433,
        "cp_min": 2, "cp_max": 10, "sslmode": "require",
    }


def test_unknown_database_engine(tmp_path, minimal):
    message = load_error(tmp_path, minimal, database={"name": "mysql", "args": {}})
    assert message.startswith("hs.yaml: database.name: ")


def test_ratelimit_defaults_match_synapse(tmp_path, minimal):
    rl = load(tmp_path, minimal).ratelimiting
    assert rl.rc_message == RatelimitSettings(0.2, 10)
    assert rl.rc_registration == RatelimitSettings(0.17, 3)
    assert rl.rc_login_address == RatelimitSettings(0.003, 5)
    assert rl.rc_login_account == RatelimitSettings(0.003, 5)
    assert rl.rc_login_failed_attempts == RatelimitSettings(0.17, 3)
    assert rl.rc_joins_local == RatelimitSettings(0.1, 10)
    assert rl.rc_joins_remote == RatelimitSettings(0.01, 10)
    assert rl.rc_joins_per_room == RatelimitSettings(1, 10)
    assert rl.rc_invites_per_room == RatelimitSettings(0.3, 10)
    assert rl.rc_invites_per_user == RatelimitSettings(0.003, 5)
    assert rl.rc_invites_per_issuer == RatelimitSettings(0.3, 10)
    assert rl.rc_room_creation == RatelimitSettings(0.016, 10)
    assert rl.rc_presence_per_user == RatelimitSettings(0.1, 1)
    assert rl.rc_admin_redaction is None


def test_ratelimit_overrides(tmp_path, minimal):
    rl = load(
        tmp_path,
        minimal,
        rc_message={"per_second": "5", "burst_count": 50},
        rc_login={"failed_attempts": {"per_second": 1}},
        rc_joins={"remote": {"burst_count": 3}},
        rc_presence={"per_user": {"per_second": 2, "burst_count": 4}},
    ).ratelimiting
    assert rl.rc_message == RatelimitSettings(5.0, 50)
    assert rl.rc_login_failed_attempts == RatelimitSettings(1.0, 3)
    assert rl.rc_joins_remote == RatelimitSettings(0.01, 3)
    assert rl.rc_presence_per_user == RatelimitSettings(2.0, 4)


def test_legacy_message_ratelimit_keys(tmp_path, minimal):
    rl = load(tmp_path, minimal, rc_messages_per_second=1, rc_message_burst_count=7).ratelimiting
    assert rl.rc_message == RatelimitSettings(1.0, 7)


def test_room_publication_denied_by_default(tmp_path, minimal):
    rooms = load(tmp_path, minimal).roomdirectory
    assert rooms.is_publishing_room_allowed("@a:example.org", "!r:example.org", []) is False
    assert rooms.is_alias_creation_allowed("@a:example.org", "!r:example.org", "#x:example.org") is True


def test_room_publication_rules_first_match_wins(tmp_path, minimal):
    rooms = load(
        tmp_path,
        minimal,
        room_list_publication_rules=[
            {"user_id": "@spammer:*", "action": "deny"},
            {"alias": "#public-*", "action": "allow"},
            {"user_id": "@admin:example.org", "action": "allow"},
        ],
    ).roomdirectory
    allowed = rooms.is_publishing_room_allowed
    assert allowed("@spammer:example.org", "!r:x", ["#public-room:example.org"]) is False
    assert allowed("@bob:example.org", "!r:x", ["#other:x", "#Public-Room:example.org"]) is True
    # a rule with an alias glob other than * never matches a room without aliases
    assert allowed("@bob:example.org", "!r:x", []) is False
    assert allowed("@admin:example.org", "!r:x", []) is True


def test_room_rule_with_bad_action(tmp_path, minimal):
    message = load_error(tmp_path, minimal, room_list_publication_rules=[{"action": "maybe"}])
    assert message.startswith("hs.yaml: room_list_publication_rules.0.action: ")


def test_listener_variants(tmp_path, minimal):
    config = load(
        tmp_path,
        minimal,
        listeners=[
            {"port": 8008, "type": "http", "resources": [{"names": ["client", "federation"]}, {"names": ["metrics"]}]},
            {"path": "/run/hs.sock", "type": "http", "mode": "660", "resources": [{"names": ["replication"]}]},
            {"port": 9000, "type": "metrics", "bind_addresses": ["127.0.0.1"]},
            {"port": 9001, "type": "manhole"},
        ],
    )
    http, unix, metrics, manhole = config.server.listeners
    assert http.bind_addresses == ["::", "0.0.0.0"]
    assert http.resource_names == ["client", "federation", "metrics"]
    assert unix.path == "/run/hs.sock" and unix.port is None and unix.mode == 0o660
    assert metrics.type == "metrics" and metrics.bind_addresses == ["127.0.0.1"]
    assert manhole.type == "manhole"


def test_listener_needs_port_or_path(tmp_path, minimal):
    assert load_error(tmp_path, minimal, listeners=[{"type": "http"}]).startswith("hs.yaml: listeners.0: ")


def test_tls_listener_needs_certificate(tmp_path, minimal):
    message = load_error(tmp_path, minimal, listeners=[{"type": "http", "port": 8448, "tls": True}])
    assert message.startswith("hs.yaml: listeners.0.tls: ")


def test_redis_section(tmp_path, minimal):
    redis = load(tmp_path, minimal, redis={"enabled": "true", "host": "cache", "port": "6380", "dbid": 2,
                                           "password": "pw", "use_tls": True}).redis
    assert (redis.enabled, redis.host, redis.port, redis.dbid, redis.password, redis.use_tls) == (
        True, "cache", 6380, 2, "pw", True
    )


def test_media_section(tmp_path, minimal):
    media = load(tmp_path, minimal, media_store_path="/srv/media", max_upload_size="2G").media
    assert media.media_store_path == "/srv/media"
    assert media.max_upload_size == 2 * 1024**3
    assert load(tmp_path, minimal).media.media_store_path == str(tmp_path.cwd() / "media_store")


def test_federation_defaults(tmp_path, minimal):
    fed = load(tmp_path, minimal).federation
    assert fed.federation_domain_whitelist is None and fed.is_domain_allowed("anyone.example")
    assert fed.federation_verify_certificates is True
    assert fed.is_ip_blocked("10.1.2.3") and fed.is_ip_blocked("::1") and fed.is_ip_blocked("0.0.0.0")
    assert fed.is_ip_blocked("::ffff:192.168.1.1")
    assert not fed.is_ip_blocked("93.184.216.34")


def test_federation_options(tmp_path, minimal):
    fed = load(
        tmp_path,
        minimal,
        federation_domain_whitelist=["a.example"],
        federation_verify_certificates="no",
        ip_range_whitelist=["127.0.0.0/8", "::1/128"],
        ip_range_blacklist=["93.184.216.0/24"],
    ).federation
    assert fed.is_domain_allowed("a.example") and not fed.is_domain_allowed("b.example")
    assert fed.federation_verify_certificates is False
    assert not fed.is_ip_blocked("127.0.0.1") and fed.is_ip_blocked("93.184.216.34")
    assert not fed.is_ip_blocked("10.0.0.1")


def test_bad_ip_range(tmp_path, minimal):
    message = load_error(tmp_path, minimal, ip_range_whitelist=["127.0.0.0/8", "not-an-ip"])
    assert message.startswith("hs.yaml: ip_range_whitelist.1: ")
